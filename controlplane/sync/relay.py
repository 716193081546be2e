"""The relay (run by beat every few seconds) and batch windows.

The relay is what makes a lost broker message, a broker outage or a killed worker only a
delay: it recovers ``in_flight`` rows whose lease expired (the worker died mid-try) and
re-publishes wake-ups for due rows nobody was woken for recently. Batch windows publish
wake-ups for every due row of one operation when its PeriodicTask fires.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from controlplane.core.actors import acting
from controlplane.sync import registry
from controlplane.sync.dispatch import (
    WORKER_ACTOR,
    apply_outcome,
    batch_size_for,
    open_dead_exception,
    save_finished,
)
from controlplane.sync.kick import kick
from controlplane.sync.models import AttemptOutcome, JobState, OutboxJob, SyncAttempt, SyncMode, SyncPolicy
from controlplane.sync.registry import JobOutcome

logger = logging.getLogger(__name__)


def recover_expired_leases(*, now: datetime | None = None, limit: int = 200) -> int:
    """In-flight jobs whose lease ran out were held by a worker that died (or hung past the hard
    time limit): record the lost try and send each back to retry (or dead when out of tries)."""
    now = now or timezone.now()
    recovered = 0
    with transaction.atomic(), acting(WORKER_ACTOR, "lease expired: worker lost"):
        jobs = list(
            OutboxJob.objects.filter(state=JobState.IN_FLIGHT, lease_until__lt=now)
            .select_for_update(skip_locked=True, of=("self",)).select_related("target", "content_type").order_by("id")[:limit]
        )
        attempts, dead = [], []
        for job in jobs:
            attempts.append(SyncAttempt(
                job=job, number=job.attempts, started_at=job.claimed_at or now,
                duration_ms=int(((now - job.claimed_at).total_seconds() if job.claimed_at else 0) * 1000),
                outcome=AttemptOutcome.LOST, error_class="LeaseExpired",
                error=f"lease expired at {job.lease_until.isoformat()}; worker {job.claimed_by} presumed dead",
                worker_id=job.claimed_by, correlation_id=job.correlation_id,
            ))
            outcome = JobOutcome("retry", error=f"worker {job.claimed_by} lost the job (lease expired)",
                                 error_class="LeaseExpired")
            if apply_outcome(job, outcome, registry.get(job.operation), now):
                dead.append(job)
            recovered += 1
        save_finished(jobs, "lease expired: worker lost")
        if attempts:
            bulk_create_with_history(attempts, SyncAttempt, default_change_reason="lease expired")
        for job in dead:
            open_dead_exception(job)
    if recovered:
        logger.warning("recovered %d job(s) with an expired lease", recovered)
    return recovered


def _messages_for(count: int, operation: str, target, cap: int) -> int:
    batch = batch_size_for(operation, registry.get(operation))
    limit = min(cap, target.max_in_flight) if target is not None and target.max_in_flight else cap
    return max(1, min(limit, math.ceil(count / batch)))


def _publish(groups, *, now: datetime, mark: Q | None) -> int:
    from controlplane.connections.models import ExternalSystem

    cap = int(getattr(settings, "SYNC_RELAY_MAX_MESSAGES_PER_GROUP", 8))
    targets = ExternalSystem.objects.in_bulk([g["target_id"] for g in groups if g["target_id"]])
    published = 0
    for g in groups:
        op, target_id = g["operation"], g["target_id"]
        n = _messages_for(g["n"], op, targets.get(target_id), cap)
        sent = 0
        for _ in range(n):
            if not kick(op, target_id):
                break
            sent += 1
        published += sent
        if sent and mark is not None:
            OutboxJob.objects.filter(mark, operation=op, target_id=target_id).update(kicked_at=now)
        if sent < n:
            # The broker is away: every further publish would wait for its timeout too. The
            # next pass tries again; nothing was marked as woken.
            logger.warning("relay: broker unavailable, pass stopped after %d wake-up(s)", published)
            break
    return published


def relay(*, now: datetime | None = None) -> dict[str, int]:
    """One relay pass: recover expired leases, then wake workers for due rows not woken in the
    last ``SYNC_RELAY_REPUBLISH_AFTER_SECONDS``. Pending rows of batch-mode operations are left
    for their window; their retries are relayed like any other."""
    now = now or timezone.now()
    recovered = recover_expired_leases(now=now)
    stale = now - timedelta(seconds=float(getattr(settings, "SYNC_RELAY_REPUBLISH_AFTER_SECONDS", 30)))
    batch_ops = list(SyncPolicy.objects.filter(mode=SyncMode.BATCH).values_list("operation", flat=True))
    batch_ops += [op for op in registry.operations()
                  if registry.get(op).mode == SyncMode.BATCH and not SyncPolicy.objects.filter(operation=op).exists()]
    due = (
        Q(state__in=JobState.due(), next_attempt_at__lte=now)
        & (Q(kicked_at__isnull=True) | Q(kicked_at__lt=stale))
        & ~Q(operation__in=batch_ops, state=JobState.PENDING)
    )
    groups = list(OutboxJob.objects.filter(due).values("operation", "target_id").annotate(n=Count("id"))
                  .order_by("operation", "target_id"))
    published = _publish(groups, now=now, mark=due)
    if published or recovered:
        logger.info("relay: %d recovered, %d wake-up(s) published", recovered, published)
    return {"recovered": recovered, "published": published}


def batch_window(operation: str, *, now: datetime | None = None) -> int:
    """A batch window opened for ``operation``: wake workers for all its due rows, per target."""
    now = now or timezone.now()
    due = Q(operation=operation, state__in=JobState.due(), next_attempt_at__lte=now)
    groups = list(OutboxJob.objects.filter(due).values("operation", "target_id").annotate(n=Count("id"))
                  .order_by("target_id"))
    published = _publish(groups, now=now, mark=due)
    logger.info("batch window %s: %d wake-up(s) for %d group(s)", operation, published, len(groups))
    return published
