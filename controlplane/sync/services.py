"""Writes on the outbox: enqueue (in the caller's transaction) and replay (by a person).

Neither ever talks to the broker inside a transaction: workers are woken on commit, and a
failed wake-up only delays the job until the relay publishes it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from controlplane.core.actors import Actor, acting
from controlplane.core.correlation import get_correlation_id, new_correlation_id
from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.sync import registry
from controlplane.sync.kick import kick_after_commit
from controlplane.sync.models import JobState, OutboxJob, SyncMode, SyncPolicy

logger = logging.getLogger(__name__)


def canonical_json(payload: dict) -> str:
    """The payload as stable JSON (sorted keys, Decimals and dates as strings): what is stored
    and hashed, so equal payloads always hash equal."""
    return json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def operation_mode(operation: str) -> str:
    """``realtime`` or ``batch``: the SyncPolicy row if there is one, else the registration."""
    mode = SyncPolicy.objects.filter(operation=operation).values_list("mode", flat=True).first()
    if mode:
        return mode
    reg = registry.get(operation)
    return reg.mode if reg else SyncMode.REALTIME


def outbox_enqueue(*, actor: Actor, target, operation: str, subject: models.Model | None, payload: dict,
                   idempotency_key: str, correlation_id: str | None = None,
                   not_before: datetime | None = None) -> OutboxJob:
    """Write one outbox row in the caller's transaction (idempotent: an existing row with the same
    ``idempotency_key`` is returned unchanged). After commit, real-time operations are kicked to a
    worker; batch operations wait for their window (SyncPolicy). Never calls the broker inside
    the transaction, and never fails because the broker is down."""
    if not idempotency_key or not operation:
        raise ValidationFailed("An outbox job needs an operation and an idempotency key.", [
            FieldProblem("idempotency_key", "required", "Give a deterministic key for this operation."),
        ])
    existing = OutboxJob.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    body = canonical_json(payload)
    now = timezone.now()
    realtime = operation_mode(operation) == SyncMode.REALTIME
    job = OutboxJob(
        target=target,
        operation=operation,
        queue=registry.queue_for(operation),
        payload=json.loads(body),
        payload_sha256=hashlib.sha256(body.encode()).hexdigest(),
        idempotency_key=idempotency_key[:255],
        correlation_id=(correlation_id or get_correlation_id() or new_correlation_id())[:64],
        next_attempt_at=max(not_before, now) if not_before else now,
        # The on-commit kick below stands for this; the relay republishes if it is lost.
        kicked_at=now if realtime and not not_before else None,
    )
    if subject is not None:
        job.content_type = ContentType.objects.get_for_model(subject)
        job.object_id = str(subject.pk)
    with acting(actor, actor.reason or f"outbox: {operation}"):
        try:
            with transaction.atomic():
                job.save()
        except IntegrityError:
            # A concurrent transaction enqueued the same key first; theirs is the job.
            return OutboxJob.objects.get(idempotency_key=idempotency_key)
    if realtime and not not_before:
        kick_after_commit(operation, job.target_id, job_ids=[job.pk])
    return job


def outbox_replay(*, actor: Actor, job_ids: Iterable[int], reason: str, reset_attempts: bool = True) -> list[OutboxJob]:
    """Send dead, cancelled or waiting jobs back to ``pending`` now, recording who and why on the
    row (``last_replay_*``, ``replay_count``) and in its history; the open ``sync_dead``
    exception of each replayed job is resolved with the same reason. Jobs in other states are
    left alone (the returned list says which were replayed). Workers are woken on commit."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationFailed("A replay needs a reason.", [
            FieldProblem("reason", "required", "Say why these jobs are replayed (e.g. which mapping was fixed)."),
        ])
    from controlplane.exceptions.models import ExceptionRecord, ExceptionStatus
    from controlplane.exceptions.services import exception_resolve

    ids = sorted({int(i) for i in job_ids})
    now = timezone.now()
    replayed: list[OutboxJob] = []
    with transaction.atomic(), acting(actor, f"replayed: {reason}"):
        for job in OutboxJob.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            if job.state not in JobState.replayable():
                continue
            job.replay(by=actor.user, reason=reason, reset_attempts=reset_attempts, at=now)
            job.save()
            replayed.append(job)
        open_exceptions = ExceptionRecord.objects.filter(
            dedupe_key__in=[dead_exception_key(j) for j in replayed], status__in=ExceptionStatus.active()
        ).values_list("pk", flat=True)
        for exception_id in list(open_exceptions):
            exception_resolve(actor=actor, exception_id=exception_id, note=f"job replayed: {reason}")
    for operation, target_id in {(j.operation, j.target_id) for j in replayed}:
        kick_after_commit(operation, target_id, job_ids=[j.pk for j in replayed if j.operation == operation])
    logger.info("replayed %d of %d outbox jobs", len(replayed), len(ids), extra={"reason": reason})
    return replayed


def outbox_cancel(*, actor: Actor, job_ids: Iterable[int], reason: str) -> list[OutboxJob]:
    """Cancel jobs that have not run yet (pending or waiting to retry); others are left alone."""
    cancelled = []
    with transaction.atomic(), acting(actor, f"cancelled: {reason}"):
        for job in OutboxJob.objects.select_for_update().filter(pk__in=list(job_ids)).order_by("pk"):
            if job.state in JobState.due():
                job.cancel(reason=reason)
                job.save()
                cancelled.append(job)
    return cancelled


def dead_exception_key(job: OutboxJob) -> str:
    """The exception dedupe key of a dead job: one open exception per job at most."""
    return f"sync_dead:{job.pk}"
