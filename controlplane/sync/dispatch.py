"""Claiming and running jobs: what a worker does with one ``dispatch_task`` message.

1. ``claim`` takes up to N due rows of one operation and target: candidates are picked with
   ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; ignored on SQLite) and the claim itself is
   a conditional UPDATE that stamps a fresh claim token, so it is correct on both.
2. The handler runs outside any transaction, under the jobs' correlation id.
3. ``finalize`` records one SyncAttempt per job and moves each job to succeeded, retry_wait or
   dead — only if the claim is still ours (a lease taken over by the relay is not overwritten).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from controlplane.core.actors import Actor, acting
from controlplane.core.correlation import correlation, get_correlation_id, new_correlation_id
from controlplane.sync import registry
from controlplane.sync.backoff import backoff_delay, schedule_delay
from controlplane.sync.limits import gate_acquire, gate_pause, pause_for
from controlplane.sync.models import AttemptOutcome, JobState, OutboxJob, SyncAttempt, SyncPolicy
from controlplane.sync.registry import JobOutcome, Registration
from integrations.errors import PermanentError

logger = logging.getLogger(__name__)

WORKER_ACTOR = Actor(reason="sync worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# A claim outlives the task's hard time limit by at least this much (the time for a killed
# task's worker to notice and for the claim's own transaction).
MIN_LEASE_MARGIN_SECONDS = 1.0


def lease_seconds() -> float:
    """How long a claim holds (a job's, and the claims its handler takes on business objects,
    e.g. the Odoo posting ledger): ``SYNC_LEASE_SECONDS`` (default: the hard time limit +
    60 s), never less than ``CELERY_TASK_TIME_LIMIT`` + ``MIN_LEASE_MARGIN_SECONDS`` — a live
    task never loses its lease, and a killed one's comes back soon after its limit."""
    hard = float(getattr(settings, "CELERY_TASK_TIME_LIMIT", 300))
    configured = float(getattr(settings, "SYNC_LEASE_SECONDS", hard + 60))
    return max(configured, hard + MIN_LEASE_MARGIN_SECONDS)


@dataclass
class Claim:
    token: str
    jobs: list[OutboxJob] = field(default_factory=list)
    started_at: datetime | None = None
    wait_seconds: float | None = None
    limited: str = ""


def batch_size_for(operation: str, reg: Registration | None) -> int:
    size = SyncPolicy.objects.filter(operation=operation).values_list("batch_size", flat=True).first()
    return max(1, size or (reg.batch_size if reg else 1))


def claim(*, operation: str, target_id: int | None, limit: int, worker_id: str = "",
          now: datetime | None = None) -> Claim:
    """Atomically take up to ``limit`` due jobs of ``operation`` for ``target_id`` (in flight,
    leased, attempts + 1). Returns an empty claim when none is due or the target's limits say
    wait (``wait_seconds`` then says for how long, when known)."""
    now = now or timezone.now()
    result = Claim(token=uuid.uuid4().hex, started_at=now)
    with transaction.atomic():
        if target_id is not None:
            from controlplane.connections.models import ExternalSystem

            system = ExternalSystem.objects.get(pk=target_id)
            decision = gate_acquire(system, now)
            if not decision.allowed:
                result.wait_seconds, result.limited = decision.wait_seconds, decision.reason
                return result
        due = OutboxJob.objects.filter(
            operation=operation, target_id=target_id, state__in=JobState.due(), next_attempt_at__lte=now
        )
        candidates = list(
            due.order_by("next_attempt_at", "id").select_for_update(skip_locked=True).values_list("id", flat=True)[:limit]
        )
        if not candidates:
            return result
        due.filter(id__in=candidates).update(
            state=JobState.IN_FLIGHT, lease_until=now + timedelta(seconds=lease_seconds()),
            attempts=F("attempts") + 1, claim_token=result.token, claimed_at=now,
            claimed_by=worker_id[:128], updated_at=now,
        )
    result.jobs = list(
        OutboxJob.objects.filter(claim_token=result.token, state=JobState.IN_FLIGHT)
        .select_related("target", "content_type").order_by("id")
    )
    return result


def call_handler(reg: Registration | None, jobs: list[OutboxJob]) -> dict[int, JobOutcome]:
    """Run the handler for the claimed jobs and return one outcome per job. An exception escaping
    the handler is an outcome for every job (retryable, or permanent for ``PermanentError``)."""
    if reg is None:
        return {j.pk: JobOutcome("retry", error=f"no handler registered for {jobs[0].operation}",
                                 error_class="NotRegistered") for j in jobs}
    try:
        outcomes = reg.handler(jobs) or {}
    except PermanentError as exc:
        logger.warning("handler for %s refused permanently: %s", reg.operation, exc)
        return {j.pk: JobOutcome.permanent(exc) for j in jobs}
    except SoftTimeLimitExceeded as exc:
        logger.warning("handler for %s hit the soft time limit", reg.operation)
        return {j.pk: JobOutcome.retry(exc) for j in jobs}
    except Exception as exc:  # noqa: BLE001 — the contract: an escaping error is a retryable outcome, recorded
        logger.exception("handler for %s failed", reg.operation)
        retry_after = getattr(exc, "retry_after", None)
        return {j.pk: JobOutcome.retry(exc, retry_after=retry_after) for j in jobs}
    missing = JobOutcome("retry", error="the handler returned no outcome for this job", error_class="NoOutcome")
    return {j.pk: outcomes.get(j.pk, missing) for j in jobs}


def retry_delay(reg: Registration | None, attempt: int, retry_after: float | None) -> float | None:
    """Seconds until the next try after failed try ``attempt``, or None when the job is out of tries."""
    if reg is not None and reg.retry_schedule is not None:
        delay = schedule_delay(attempt, reg.retry_schedule)
        if delay is None:
            return None
        return max(delay, retry_after or 0.0)
    max_attempts = reg.max_attempts if reg else int(getattr(settings, "SYNC_DEFAULT_MAX_ATTEMPTS", 8))
    if attempt >= max_attempts:
        return None
    if retry_after is not None:
        return max(0.0, float(retry_after))
    return backoff_delay(attempt, base=float(getattr(settings, "SYNC_BACKOFF_BASE_SECONDS", 2)),
                         cap=float(getattr(settings, "SYNC_BACKOFF_CAP_SECONDS", 3600)))


def apply_outcome(job: OutboxJob, outcome: JobOutcome, reg: Registration | None, now: datetime) -> bool:
    """Move one in-flight job according to its outcome. Returns True when it went dead and
    needs an exception opened."""
    if outcome.kind == "ok":
        job.succeed(summary=outcome.summary)
        return False
    if outcome.kind == "cancel":
        job.cancel(reason=outcome.error)
        return False
    if outcome.kind == "defer":
        job.defer(at=now + timedelta(seconds=outcome.retry_after or 0.0), reason=outcome.error)
        return False
    if outcome.kind == "permanent":
        job.die(error_class=outcome.error_class or "PermanentError", error=outcome.error)
        return outcome.open_exception
    delay = retry_delay(reg, job.attempts, outcome.retry_after)
    if delay is None:
        job.die(error_class=outcome.error_class or "RetriesExhausted",
                error=f"gave up after {job.attempts} tries: {outcome.error}")
        return True
    job.schedule_retry(at=now + timedelta(seconds=delay), error_class=outcome.error_class or "Error",
                       error=outcome.error)
    return False


_OUTCOME_TO_ATTEMPT = {"ok": AttemptOutcome.SUCCEEDED, "retry": AttemptOutcome.RETRY,
                       "defer": AttemptOutcome.DEFERRED, "permanent": AttemptOutcome.PERMANENT,
                       "cancel": AttemptOutcome.CANCELLED}


def finalize(claim_: Claim, outcomes: dict[int, JobOutcome], reg: Registration | None, *,
             worker_id: str, duration_ms: int) -> dict[str, int]:
    """Record the try and move the jobs; jobs whose claim was taken over are only recorded."""
    now = timezone.now()
    counts: dict[str, int] = {}
    dead: list[OutboxJob] = []
    attempts: list[SyncAttempt] = []
    with transaction.atomic(), acting(WORKER_ACTOR, f"sync: {claim_.jobs[0].operation}"):
        ours = {j.pk: j for j in OutboxJob.objects.select_for_update(of=("self",)).filter(
            claim_token=claim_.token, state=JobState.IN_FLIGHT).select_related("target", "content_type")}
        for claimed in claim_.jobs:
            outcome = outcomes[claimed.pk]
            job = ours.get(claimed.pk)
            kind = _OUTCOME_TO_ATTEMPT[outcome.kind] if job is not None else AttemptOutcome.STALE
            attempts.append(SyncAttempt(
                job_id=claimed.pk, number=claimed.attempts, started_at=claim_.started_at, duration_ms=duration_ms,
                outcome=kind, request_summary=outcome.request_summary, response_summary=outcome.summary,
                error_class=outcome.error_class[:128], error=outcome.error[:4000], worker_id=worker_id[:128],
                correlation_id=claimed.correlation_id,
            ))
            counts[kind] = counts.get(kind, 0) + 1
            if job is None:
                continue
            if apply_outcome(job, outcome, reg, now):
                dead.append(job)
            if outcome.kind == "retry" and outcome.retry_after and job.target_id:
                gate_pause(job.target_id, pause_for(outcome.retry_after, now))
        save_finished(list(ours.values()), f"sync: {claim_.jobs[0].operation}")
        bulk_create_with_history(attempts, SyncAttempt, default_change_reason="sync attempt",
                                 custom_historical_attrs=_history_attrs())
        for job in dead:
            open_dead_exception(job)
    return counts


_FINISH_FIELDS = ["state", "attempts", "response_summary", "last_error_class", "last_error", "lease_until", "claim_token",
                  "finished_at", "next_attempt_at", "updated_at"]


def _history_attrs() -> dict[str, str]:
    # The bulk history path sends no pre_create signal: stamp what core.history would.
    return {"history_system": "", "history_correlation_id": get_correlation_id()[:64]}


def save_finished(jobs: list[OutboxJob], reason: str) -> None:
    """Write jobs moved by a transition (rows locked by the caller's transaction, still in the
    state they were read in): one UPDATE and one history INSERT for the whole batch, instead
    of a save() each — this is the hot path."""
    if not jobs:
        return
    now = timezone.now()
    for job in jobs:
        job.updated_at = now
    bulk_update_with_history(jobs, OutboxJob, _FINISH_FIELDS, default_change_reason=reason,
                             custom_historical_attrs=_history_attrs())


def open_dead_exception(job: OutboxJob) -> None:
    """One ``sync_dead`` exception per dead job (deduplicated), on the business subject."""
    from controlplane.exceptions.models import ExceptionKind, Severity
    from controlplane.exceptions.services import exception_open
    from controlplane.sync.services import dead_exception_key

    subject = job.subject if job.content_type_id else None
    exception_open(
        actor=WORKER_ACTOR.because(f"{job.operation} dead-lettered"),
        kind=ExceptionKind.SYNC_DEAD,
        title=f"{job.operation} #{job.pk} failed: {job.last_error_class}",
        detail=job.last_error,
        severity=Severity.HIGH,
        subject=subject if subject is not None else job,
        legal_entity=getattr(subject, "legal_entity", None),
        system=job.target,
        payload={"job_id": job.pk, "operation": job.operation, "idempotency_key": job.idempotency_key,
                 "attempts": job.attempts, "error_class": job.last_error_class},
        dedupe_key=dead_exception_key(job),
    )


@dataclass
class RunResult:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    wait_seconds: float | None = None
    limited: str = ""
    more_due: bool = False


def run_once(*, operation: str, target_id: int | None, worker_id: str = "") -> RunResult:
    """Claim one batch, run the handler, record the outcome. What ``dispatch_task`` does."""
    worker_id = worker_id or default_worker_id()
    reg = registry.get(operation)
    c = claim(operation=operation, target_id=target_id, limit=batch_size_for(operation, reg), worker_id=worker_id)
    if not c.jobs:
        return RunResult(wait_seconds=c.wait_seconds, limited=c.limited)
    ids = {j.correlation_id for j in c.jobs}
    cid = ids.pop() if len(ids) == 1 else new_correlation_id()
    started = time.monotonic()
    with correlation(cid):
        logger.info("running %s for %d job(s)", operation, len(c.jobs), extra={
            "operation": operation, "target_id": target_id, "job_ids": [j.pk for j in c.jobs],
            "job_correlation_ids": sorted({j.correlation_id for j in c.jobs}), "worker_id": worker_id})
        outcomes = call_handler(reg, c.jobs)
        duration_ms = int((time.monotonic() - started) * 1000)
        counts = finalize(c, outcomes, reg, worker_id=worker_id, duration_ms=duration_ms)
        logger.info("finished %s: %s", operation, counts, extra={
            "operation": operation, "target_id": target_id, "duration_ms": duration_ms, "outcomes": counts})
    more = OutboxJob.objects.filter(operation=operation, target_id=target_id, state__in=JobState.due(),
                                    next_attempt_at__lte=timezone.now()).exists()
    return RunResult(claimed=len(c.jobs), counts=counts, more_due=more)
