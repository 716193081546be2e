"""Sync policies: real time or batch windows per operation, with the window's schedule kept in
the database (django-celery-beat), editable in the admin."""

from __future__ import annotations

import json

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from controlplane.core.actors import Actor, acting
from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.sync.models import SyncMode, SyncPolicy

WINDOW_TASK = "controlplane.sync.tasks.run_batch_window_task"

# What the demo installs (batch postings every 5 minutes so a demo shows them); production
# edits the schedules in the admin (e.g. postings hourly, imports and bank files at 02:00).
DEFAULT_POLICIES: dict[str, dict] = {
    "odoo.post_expense": {"mode": SyncMode.BATCH, "every_seconds": 300, "note": "ledger postings after finance review"},
    "odoo.import_masterdata": {"mode": SyncMode.BATCH, "crontab": "0 2 * * *", "note": "nightly master-data import"},
    "files.reimbursement": {"mode": SyncMode.BATCH, "crontab": "0 2 * * *", "note": "reimbursement files"},
    "odoo.export_employee": {"mode": SyncMode.REALTIME, "note": "employees Odoo needs before posting"},
    "odoo.readback": {"mode": SyncMode.BATCH, "every_seconds": 900, "note": "read back what Odoo posted and paid"},
    "webhook.deliver": {"mode": SyncMode.REALTIME, "note": "submissions, approval decisions, notifications"},
}


def _parse_crontab(expr: str) -> CrontabSchedule:
    parts = expr.split()
    if len(parts) != 5:
        raise ValidationFailed("A crontab has five fields.", [
            FieldProblem("crontab", "invalid", "Use 'minute hour day-of-month month day-of-week', e.g. '0 2 * * *'."),
        ])
    minute, hour, dom, month, dow = parts
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow, timezone="UTC"
    )
    return schedule


@transaction.atomic
def sync_policy_set(*, actor: Actor, operation: str, mode: str, batch_size: int | None = None,
                    every_seconds: int | None = None, crontab: str | None = None, note: str = "") -> SyncPolicy:
    """Create or change the policy of ``operation``. A batch policy needs a window (``every_seconds``
    or a five-field ``crontab``): its PeriodicTask is created or updated and enabled. A real-time
    policy disables any window it had."""
    if mode not in SyncMode.values:
        raise ValidationFailed("Unknown sync mode.", [FieldProblem("mode", "invalid", f"One of {SyncMode.values}.")])
    if mode == SyncMode.BATCH and not (every_seconds or crontab):
        raise ValidationFailed("A batch policy needs a window.", [
            FieldProblem("schedule", "required", "Give every_seconds or a crontab."),
        ])
    with acting(actor, actor.reason or f"sync policy for {operation}"):
        policy, _ = SyncPolicy.objects.get_or_create(operation=operation)
        policy.mode, policy.batch_size, policy.note = mode, batch_size, note or policy.note
        task = policy.schedule or PeriodicTask(name=f"sync window: {operation}"[:200], task=WINDOW_TASK)
        task.kwargs = json.dumps({"operation": operation})
        task.queue = "default"
        if mode == SyncMode.BATCH:
            task.interval, task.crontab = None, None
            if crontab:
                task.crontab = _parse_crontab(crontab)
            else:
                task.interval, _ = IntervalSchedule.objects.get_or_create(
                    every=int(every_seconds), period=IntervalSchedule.SECONDS)
            task.enabled = True
            task.save()
            policy.schedule = task
        elif policy.schedule is not None:
            task.enabled = False
            task.save()
        policy.save()
    return policy


def sync_policies_install_defaults(*, actor: Actor) -> list[SyncPolicy]:
    """Create the default policies that do not exist yet (edited ones are left alone)."""
    created = []
    for operation, spec in DEFAULT_POLICIES.items():
        if not SyncPolicy.objects.filter(operation=operation).exists():
            created.append(sync_policy_set(actor=actor, operation=operation, **spec))
    return created
