"""Periodic approval work. Thin: the service does everything."""

from __future__ import annotations

from celery import shared_task

from controlplane.approvals.services import escalate_overdue_steps
from controlplane.core.actors import Actor

ESCALATION_TASK = "controlplane.approvals.tasks.escalate_overdue_steps_task"


@shared_task(name=ESCALATION_TASK, acks_late=True)
def escalate_overdue_steps_task() -> int:
    """Escalate pending steps past their service level (safe to run twice: a step is only
    moved while it is still overdue, under a row lock)."""
    return escalate_overdue_steps(actor=Actor(reason="escalation: service level exceeded"))
