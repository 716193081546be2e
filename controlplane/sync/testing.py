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
register("test.always_failing", handler=always_failing_handler, max_attempts=3)
register("test.permanent", handler=permanent_handler)
register("test.sleep", handler=sleep_handler, queue="default", max_attempts=20)
register("test.webhook", handler=always_failing_handler, queue="webhooks",
         retry_schedule=[5, 300, 1800, 7200, 18000, 36000, 36000])


# --- Odoo posting stand-in for the fault-injection test --------------------------------------
_odoo_cache: dict[tuple, tuple] = {}


def _odoo(system):
    """A client for ``system`` and the (journal, debit account, credit account) ids to post with."""
    from integrations.odoo.client import OdooClient, OdooConfig

    creds = system.credential_values()
    client = OdooClient(OdooConfig(url=system.endpoint, db=system.database, login=creds.get("login", ""),
                                   password=creds.get("password", ""), protocol=system.protocol or "xmlrpc",
                                   timeout=float(system.timeout_seconds)))
    key = (system.endpoint, system.database)
    if key not in _odoo_cache:
        journal = client.search_read("account.journal", [("type", "=", "general")], ["id"], limit=1)[0]["id"]
        expense = client.search_read("account.account", [("account_type", "=", "expense")], ["id"], limit=1)[0]["id"]
        payable = client.search_read("account.account", [("account_type", "=", "liability_payable")], ["id"],
                                     limit=1)[0]["id"]
        _odoo_cache[key] = (journal, expense, payable)
    return client, _odoo_cache[key]


def odoo_post_move_handler(jobs):
    """Posts one ``account.move`` per job (``payload``: ``ref``, ``amount``), idempotently: search
    by our reference first, then create what is missing in one call. A dropped answer raises a
    retryable error for the batch; the retry finds what the lost call committed."""
    client, (journal, expense, payable) = _odoo(jobs[0].target)
    by_ref = {j.payload["ref"]: j for j in jobs}
    found = {r["ref"]: r["id"] for r in client.search_read("account.move", [("ref", "in", list(by_ref))], ["ref"])}
    missing = [ref for ref in by_ref if ref not in found]
    created = client.create("account.move", [{
        "ref": ref, "move_type": "entry", "journal_id": journal,
        "line_ids": [(0, 0, {"account_id": expense, "debit": float(by_ref[ref].payload["amount"]), "credit": 0.0}),
                     (0, 0, {"account_id": payable, "debit": 0.0, "credit": float(by_ref[ref].payload["amount"])})],
    } for ref in missing])
    found.update(zip(missing, created, strict=True))
    return {j.pk: JobOutcome.ok({"move_id": found[ref], "created": ref in missing}) for ref, j in by_ref.items()}


register("test.odoo_post_move", handler=odoo_post_move_handler, queue="odoo", batch_size=20, max_attempts=60)
