"""Sync-engine handlers for the ``odoo.*`` operations (registered in ``OdooConfig.ready``).

Each parses its jobs, calls one service under the job's correlation id, and turns the
service's answer into ``JobOutcome``s. Posting jobs come batched (same target system).
"""

from __future__ import annotations

from collections.abc import Callable

from controlplane.core.actors import Actor
from controlplane.core.correlation import correlation
from controlplane.masterdata.models import Employee
from controlplane.sync import registry
from controlplane.sync.models import SyncMode
from controlplane.sync.registry import JobOutcome
from integrations.errors import PermanentError, RetryableError
from integrations.odoo.client import use_correlation_id

POST = "odoo.post_expense"
IMPORT = "odoo.import_masterdata"
EXPORT = "odoo.export_employee"
READBACK = "odoo.readback"


def _actor(system, what: str) -> Actor:
    return Actor(system=system, reason=f"odoo worker: {what}")


def _run(jobs, body: Callable[[], dict]) -> dict:
    cid = next((j.correlation_id for j in jobs if j.correlation_id), None)
    with correlation(cid) as value, use_correlation_id(value):
        return body()


def _no_target(jobs) -> dict[int, JobOutcome] | None:
    if jobs and jobs[0].target is None:
        return {j.id: JobOutcome.retry("no enabled Odoo system serves this legal entity yet", retry_after=300)
                for j in jobs}
    return None


def post_expense_handler(jobs) -> dict[int, JobOutcome]:
    from controlplane.odoo.posting import PostingItem, odoo_post_expenses

    waiting = _no_target(jobs)
    if waiting is not None:
        return waiting
    system = jobs[0].target
    items = [PostingItem(j.id, int(j.payload["expense_id"]), j.payload.get("revision")) for j in jobs]
    outcomes = _run(jobs, lambda: odoo_post_expenses(actor=_actor(system, "posting"), system=system, items=items))
    result = {}
    for job in jobs:
        outcome = outcomes[job.id]
        if outcome.kind == "ok":
            result[job.id] = JobOutcome.ok(outcome.summary)
        elif outcome.kind == "retry":
            result[job.id] = JobOutcome.retry(outcome.message, retry_after=outcome.retry_after)
        elif outcome.kind == "defer":
            # Waiting for another worker's live ledger claim: not a failed try, no pause of Odoo.
            result[job.id] = JobOutcome.defer(outcome.message, seconds=outcome.retry_after or 1.0)
        else:
            result[job.id] = JobOutcome.permanent(outcome.message, open_exception=outcome.open_exception)
    return result


def _per_job(jobs, work: Callable[[object], dict]) -> dict[int, JobOutcome]:
    waiting = _no_target(jobs)
    if waiting is not None:
        return waiting
    result = {}
    for job in jobs:
        try:
            result[job.id] = JobOutcome.ok(_run([job], lambda job=job: work(job)))
        except RetryableError as exc:
            result[job.id] = JobOutcome.retry(exc, retry_after=exc.retry_after)
        except PermanentError as exc:
            result[job.id] = JobOutcome.permanent(exc)
    return result


def import_masterdata_handler(jobs) -> dict[int, JobOutcome]:
    from controlplane.odoo.imports import odoo_import_masterdata

    def work(job) -> dict:
        kinds = tuple(job.payload.get("kinds") or ()) or None
        return odoo_import_masterdata(actor=_actor(job.target, "import"), system=job.target, kinds=kinds,
                                      full=bool(job.payload.get("full")))

    return _per_job(jobs, work)


def export_employee_handler(jobs) -> dict[int, JobOutcome]:
    from controlplane.odoo.exports import odoo_export_employees

    def work(job) -> dict:
        employee = Employee.objects.get(pk=job.payload["employee_id"])
        [outcome] = odoo_export_employees(actor=_actor(job.target, "employee export"), system=job.target,
                                          employees=[employee])
        if outcome.error:
            raise PermanentError(outcome.error, code="invalid")
        return {"odoo_id": outcome.odoo_id, "created": outcome.created}

    return _per_job(jobs, work)


def readback_handler(jobs) -> dict[int, JobOutcome]:
    from controlplane.odoo.readback import odoo_readback

    def work(job) -> dict:
        ids = job.payload.get("expense_ids")
        found = odoo_readback(actor=_actor(job.target, "read-back"), system=job.target, expense_ids=ids)
        return {"read": len(found), "paid": sum(1 for r in found.values() if r.payment_state == "paid")}

    return _per_job(jobs, work)


# Posting outlasts an Odoo outage: with the default back-off (base 2 s, cap 1 h, full jitter)
# 20 tries span about five hours on average before the job goes dead and a person is asked.
# Tries lost with a killed worker count; waiting on another worker's ledger claim does not
# (a deferral).
POST_MAX_ATTEMPTS = 20


def register_all() -> None:
    registry.register(POST, handler=post_expense_handler, queue="odoo", batch_size=50, max_attempts=POST_MAX_ATTEMPTS,
                      mode=SyncMode.BATCH)
    registry.register(IMPORT, handler=import_masterdata_handler, queue="odoo", max_attempts=5, mode=SyncMode.BATCH)
    registry.register(EXPORT, handler=export_employee_handler, queue="odoo", batch_size=1)
    registry.register(READBACK, handler=readback_handler, queue="odoo", mode=SyncMode.BATCH)
