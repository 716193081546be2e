"""Celery tasks of the sync engine. Thin: they take ids, call one function, and are safe to
run twice (the claim decides who works; a redelivered message finds nothing to claim)."""

from __future__ import annotations

import logging
import os

from celery import shared_task

from controlplane.sync import dispatch, relay
from controlplane.sync.kick import kick

logger = logging.getLogger(__name__)

# Wait inside the broker only briefly (rate limits); longer waits live in next_attempt_at.
MAX_COUNTDOWN_SECONDS = 10.0


@shared_task(name="controlplane.sync.tasks.dispatch_task", bind=True)
def dispatch_task(self, operation: str, target_id: int | None = None) -> dict:
    """Claim and run one batch of ``operation`` for ``target_id``; wake another worker when more
    is due, or retry shortly when the target's rate limit said wait."""
    worker_id = f"{self.request.hostname or ''}:{os.getpid()}"
    result = dispatch.run_once(operation=operation, target_id=target_id, worker_id=worker_id)
    if result.more_due:
        kick(operation, target_id)
    elif not result.claimed and result.wait_seconds is not None:
        kick(operation, target_id, countdown=min(MAX_COUNTDOWN_SECONDS, max(0.05, result.wait_seconds)))
    return {"claimed": result.claimed, "outcomes": result.counts, "limited": result.limited}


@shared_task(name="controlplane.sync.tasks.relay_task")
def relay_task() -> dict:
    """Recover expired leases and re-publish wake-ups the broker lost (beat, every few seconds)."""
    return relay.relay()


@shared_task(name="controlplane.sync.tasks.run_batch_window_task")
def run_batch_window_task(operation: str) -> int:
    """A batch window of ``operation`` opened (its SyncPolicy PeriodicTask fired)."""
    return relay.batch_window(operation)
