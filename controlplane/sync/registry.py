"""Which handler runs each operation, on which queue, how many jobs per call, and how often
to retry. Apps register their handlers in ``AppConfig.ready()``."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from controlplane.sync.models import SyncMode

if TYPE_CHECKING:
    from controlplane.sync.models import OutboxJob

logger = logging.getLogger(__name__)

QUEUES = ("default", "odoo", "webhooks", "files")


@dataclass(frozen=True)
class JobOutcome:
    """What a handler says about one job. Build with the class methods."""

    kind: str  # "ok" | "retry" | "defer" | "permanent" | "cancel"
    summary: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    error_class: str = ""
    retry_after: float | None = None
    request_summary: dict[str, Any] = field(default_factory=dict)
    open_exception: bool = True

    @classmethod
    def ok(cls, response_summary: dict | None = None, *, request_summary: dict | None = None) -> JobOutcome:
        return cls("ok", summary=response_summary or {}, request_summary=request_summary or {})

    @classmethod
    def retry(cls, error: str | BaseException, *, retry_after: float | None = None,
              request_summary: dict | None = None) -> JobOutcome:
        """Try again later (back-off, or ``retry_after`` seconds when the remote asked)."""
        return cls("retry", error=str(error), error_class=_class_name(error), retry_after=retry_after,
                   request_summary=request_summary or {})

    @classmethod
    def defer(cls, reason: str, *, seconds: float, request_summary: dict | None = None) -> JobOutcome:
        """Nothing failed: the job waits on something that ends by itself (another worker's
        live claim on the same object) and is tried again in ``seconds``. The try is given
        back (it does not count towards ``max_attempts``) and the target is not paused."""
        return cls("defer", error=reason, error_class="Deferred", retry_after=max(0.0, float(seconds)),
                   request_summary=request_summary or {})

    @classmethod
    def permanent(cls, error: str | BaseException, *, open_exception: bool = True,
                  request_summary: dict | None = None) -> JobOutcome:
        """Retrying will not help: the job goes dead (and opens a ``sync_dead`` exception)."""
        return cls("permanent", error=str(error), error_class=_class_name(error), open_exception=open_exception,
                   request_summary=request_summary or {})

    @classmethod
    def cancel(cls, reason: str) -> JobOutcome:
        """Nothing to do any more (e.g. the webhook endpoint was disabled): cancelled, no exception."""
        return cls("cancel", error=reason, error_class="Cancelled")


def _class_name(error: str | BaseException) -> str:
    return type(error).__name__ if isinstance(error, BaseException) else "Error"


Handler = Callable[[list["OutboxJob"]], dict[int, JobOutcome]]


@dataclass(frozen=True)
class Registration:
    operation: str
    handler: Handler
    queue: str = "default"
    batch_size: int = 1
    max_attempts: int = 8
    retry_schedule: tuple[float, ...] | None = None
    mode: str = SyncMode.REALTIME


_registry: dict[str, Registration] = {}


def register(operation: str, *, handler: Handler, queue: str = "default", batch_size: int = 1,
             max_attempts: int = 8, retry_schedule: list[float] | None = None,
             mode: str = SyncMode.REALTIME) -> None:
    """Declare how jobs of ``operation`` run.

    The handler gets claimed jobs (up to ``batch_size``, same operation and target) and returns
    an outcome per job id: ``JobOutcome.ok(summary)`` / ``.retry(error, retry_after=None)`` /
    ``.defer(reason, seconds=...)`` / ``.permanent(error)`` / ``.cancel(reason)``. An exception escaping the handler counts as
    retryable for every job (``integrations.errors.PermanentError`` → permanent). Handlers must
    be idempotent: they may run twice for the same job.

    ``retry_schedule`` (seconds) replaces exponential back-off: after failed try *n* the job
    waits ``retry_schedule[n-1]`` (a little jittered) and goes dead once it is exhausted.
    ``mode`` is the default when no ``SyncPolicy`` row exists for the operation.
    Registering an operation again replaces the previous registration.
    """
    if queue not in QUEUES:
        raise ValueError(f"queue {queue!r} is not one of {QUEUES}")
    if batch_size < 1 or max_attempts < 1:
        raise ValueError("batch_size and max_attempts must be at least 1")
    if operation in _registry and _registry[operation].handler is not handler:
        logger.info("sync handler for %s replaced", operation)
    _registry[operation] = Registration(
        operation=operation, handler=handler, queue=queue, batch_size=batch_size, max_attempts=max_attempts,
        retry_schedule=tuple(retry_schedule) if retry_schedule is not None else None, mode=mode,
    )


def unregister(operation: str) -> None:
    """Remove a registration (tests)."""
    _registry.pop(operation, None)


def get(operation: str) -> Registration | None:
    return _registry.get(operation)


def operations() -> list[str]:
    return sorted(_registry)


def queue_for(operation: str) -> str:
    reg = _registry.get(operation)
    return reg.queue if reg else "default"


def import_extra_modules(names: list[str] | tuple[str, ...]) -> None:
    """Import modules that register handlers outside the apps (``SYNC_EXTRA_HANDLER_MODULES``,
    e.g. test-only handlers loaded by a worker started from a test)."""
    for name in names:
        if name:
            importlib.import_module(name)
