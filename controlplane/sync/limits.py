"""Per-target limits, like queue_job's channel capacity: calls in flight and calls per second
for each external system, plus a pause when the remote said ``Retry-After``.

All state is in the database (``TargetGate`` row, in-flight jobs), so it works the same with
SQLite and the filesystem broker as with PostgreSQL and Redis. ``gate_acquire`` must run inside
the claim transaction: it locks the gate row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
IMMEDIATE transactions serialise writers anyway), so two workers never both take the last slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from controlplane.sync.models import JobState, OutboxJob, TargetGate


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    # Seconds until trying again makes sense; None when waiting on a call in flight to finish
    # (its completion wakes the next worker).
    wait_seconds: float | None = None
    reason: str = ""


def _locked_gate(system_id: int) -> TargetGate:
    gate, _ = TargetGate.objects.get_or_create(system_id=system_id)
    return TargetGate.objects.select_for_update().get(pk=gate.pk)


def calls_in_flight(system_id: int, now: datetime) -> int:
    """Handler calls running against ``system_id`` (a batch is one call: one claim token)."""
    return (
        OutboxJob.objects.filter(target_id=system_id, state=JobState.IN_FLIGHT, lease_until__gt=now)
        .values("claim_token").distinct().count()
    )


def gate_acquire(system, now: datetime) -> GateDecision:
    """May one more call to ``system`` start now? If so, takes a token from its bucket."""
    assert transaction.get_connection().in_atomic_block, "gate_acquire runs inside the claim transaction"
    gate = _locked_gate(system.pk)
    if gate.blocked_until and gate.blocked_until > now:
        return GateDecision(False, (gate.blocked_until - now).total_seconds(), "retry_after")
    if system.max_in_flight and calls_in_flight(system.pk, now) >= system.max_in_flight:
        return GateDecision(False, None, "max_in_flight")
    rate = float(system.rate_limit_per_second or 0)
    if rate > 0:
        capacity = max(1.0, rate)
        elapsed = (now - gate.refilled_at).total_seconds() if gate.refilled_at else capacity / rate
        tokens = min(capacity, gate.tokens + max(0.0, elapsed) * rate)
        if tokens < 1.0:
            return GateDecision(False, (1.0 - tokens) / rate, "rate_limit")
        gate.tokens = tokens - 1.0
        gate.refilled_at = now
        gate.save(update_fields=["tokens", "refilled_at"])
    return GateDecision(True)


def gate_pause(system_id: int, until: datetime) -> None:
    """Hold every call to the system until ``until`` (the remote answered 429 / Retry-After)."""
    gate = _locked_gate(system_id)
    if gate.blocked_until is None or gate.blocked_until < until:
        gate.blocked_until = until
        gate.save(update_fields=["blocked_until"])


def pause_for(retry_after: float, now: datetime) -> datetime:
    return now + timedelta(seconds=max(0.0, retry_after))
