"""Celery tasks of the Odoo app: thin, they take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor


@shared_task(name="controlplane.odoo.tasks.reconciliation_run_task")
def reconciliation_run_task(system_id: int) -> dict:
    """Reconcile one Odoo system (scheduled with django-celery-beat, or on demand)."""
    from controlplane.odoo.reconciliation import reconciliation_run

    system = ExternalSystem.objects.get(pk=system_id)
    run = reconciliation_run(actor=Actor(system=system, reason="scheduled reconciliation"), system=system)
    return {"run": run.pk, "checked": run.checked, "counts": run.counts}
