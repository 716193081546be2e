"""Test-only handlers, registered when this module is imported: by a test, or by a worker
started with ``SYNC_EXTRA_HANDLER_MODULES=controlplane.sync.testing``. Never imported in
production code paths.

Each handler leaves its evidence in the database (the job's response summary and its
SyncAttempt rows), so a test can check what a separate worker process did.
"""

from __future__ import annotations

import os
import time

from controlplane.core.correlation import get_correlation_id
from controlplane.sync.registry import JobOutcome, register
from integrations.errors import PermanentError, RetryableError


def record_handler(jobs):
    """Succeeds, recording the process, the correlation id in force and the payload."""
    return {
        j.pk: JobOutcome.ok({"pid": os.getpid(), "correlation_id": get_correlation_id(), "payload": j.payload,
                             "batch": len(jobs)})
        for j in jobs
    }


def flaky_handler(jobs):
    """Fails (retryable) while ``job.attempts <= payload["fail_times"]``, then succeeds.
    ``payload["retry_after"]`` is passed on as the remote's Retry-After."""
    out = {}
    for j in jobs:
        if j.attempts <= int(j.payload.get("fail_times", 0)):
            out[j.pk] = JobOutcome.retry(RetryableError("sandbox said 503", code="http_503"),
                                         retry_after=j.payload.get("retry_after"))
        else:
            out[j.pk] = JobOutcome.ok({"attempts": j.attempts})
    return out


def deferring_handler(jobs):
    """Defers (another worker holds the object) until the job has been deferred
    ``payload["defer_times"]`` times, then succeeds, reporting its tries."""
    from controlplane.sync.models import AttemptOutcome, SyncAttempt

    out = {}
    for j in jobs:
        deferred = SyncAttempt.objects.filter(job=j, outcome=AttemptOutcome.DEFERRED).count()
        if deferred < int(j.payload.get("defer_times", 0)):
            out[j.pk] = JobOutcome.defer("another worker holds it", seconds=float(j.payload.get("seconds", 0)))
        else:
            out[j.pk] = JobOutcome.ok({"attempts": j.attempts, "deferred": deferred})
    return out


def always_failing_handler(jobs):
    raise RetryableError("connection reset", code="network")


def permanent_handler(jobs):
    raise PermanentError("account 6000 does not exist", code="ValidationError")


def sleep_handler(jobs):
    """Sleeps ``payload["seconds"]`` (lets a test kill a worker mid-try), then succeeds."""
    time.sleep(max(float(j.payload.get("seconds", 0)) for j in jobs))
    return record_handler(jobs)


register("test.record", handler=record_handler, queue="default", batch_size=5, max_attempts=5)
register("test.flaky", handler=flaky_handler, queue="default", max_attempts=4)
register("test.deferring", handler=deferring_handler, queue="default", max_attempts=1)
register("test.always_failing", handler=always_failing_handler, max_attempts=3)
register("test.permanent", handler=permanent_handler)
register("test.sleep", handler=sleep_handler, queue="default", max_attempts=20)
register("test.webhook", handler=always_failing_handler, queue="webhooks",
         retry_schedule=[5, 300, 1800, 7200, 18000, 36000, 36000])
