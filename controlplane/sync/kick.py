"""Waking workers. Best effort by design: the outbox row is already committed, so a broker
that is down only delays the job until the relay publishes it again. Never raises."""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a publish may raise when the broker is away: kombu wraps most, the Redis client and the
# socket layer leak the rest.
BROKER_ERRORS = (KombuError, RedisError, OSError, TimeoutError)


def kick(operation: str, target_id: int | None, *, countdown: float | None = None,
         job_ids: list[int] | None = None) -> bool:
    """Publish one ``dispatch_task(operation, target_id)`` message. Returns False (and logs) if
    the broker refused; ``job_ids`` are then marked for the relay's next pass."""
    from controlplane.sync.tasks import dispatch_task

    try:
        dispatch_task.apply_async(
            kwargs={"operation": operation, "target_id": target_id},
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
        )
        return True
    except BROKER_ERRORS as exc:
        logger.warning(
            "broker unavailable, %s for target %s left to the relay: %s", operation, target_id, exc,
            extra={"operation": operation, "target_id": target_id, "error_class": type(exc).__name__},
        )
        if job_ids:
            _mark_unkicked(job_ids)
        return False


def _mark_unkicked(job_ids: list[int]) -> None:
    from django.db import DatabaseError

    from controlplane.sync.models import OutboxJob

    try:
        OutboxJob.objects.filter(pk__in=job_ids, kicked_at__isnull=False).update(kicked_at=None)
    except DatabaseError as exc:  # the relay's republish delay covers this too
        logger.warning("could not mark jobs for the relay: %s", exc)


def kick_after_commit(operation: str, target_id: int | None, *, job_ids: list[int] | None = None) -> None:
    """Wake a worker once the current transaction commits (immediately outside one)."""
    transaction.on_commit(partial(kick, operation, target_id, job_ids=job_ids))
