"""Reads over approval data: delegations in force, steps waiting for someone."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from controlplane.approvals.models import ApprovalStep, Delegation, StepStatus
from controlplane.core.memo import memo_active, memoized


def active_delegate(approver, *, at: dt.datetime | None = None):
    """The employee deciding for ``approver`` at ``at`` (now by default), or None. With
    overlapping windows the most recently started one wins. Within a bulk call
    (``core.memo``) the approver's delegations not ended at the first ``at`` asked are read
    once; an earlier ``at`` asks the database."""
    at = at or timezone.now()
    in_force = Delegation.objects.filter(approver_id=approver.pk, active=True, end__gt=at).select_related(
        "delegate").order_by("-start", "-id")
    if memo_active():
        loaded_at, delegations = memoized(("delegations_of", approver.pk), lambda: (at, list(in_force)))
        if at >= loaded_at:
            return next((d.delegate for d in delegations if d.start <= at < d.end), None)
    delegation = in_force.filter(start__lte=at).first()
    return delegation.delegate if delegation else None


def delegators_of(delegate, *, at: dt.datetime | None = None) -> list[int]:
    """Ids of the approvers ``delegate`` currently stands in for."""
    at = at or timezone.now()
    return list(
        Delegation.objects.filter(delegate=delegate, active=True, start__lte=at, end__gt=at)
        .values_list("approver_id", flat=True)
    )


def pending_steps_for(approver) -> QuerySet[ApprovalStep]:
    """Pending steps ``approver`` may decide now: assigned to them, to someone they stand in
    for, or to a group they belong to — never steps of their own expenses."""
    condition = Q(approver=approver) | Q(approver_id__in=delegators_of(approver))
    if approver.user_id:
        condition |= Q(group__in=approver.user.groups.all())
    return (
        ApprovalStep.objects.filter(condition, status=StepStatus.PENDING)
        .exclude(expense__employee=approver)
        .select_related("expense", "expense__employee", "expense__legal_entity", "approver", "group")
        .order_by("due_at", "id")
    )


def current_step(expense) -> ApprovalStep | None:
    """The pending step of the expense's latest chain, if any."""
    return expense.approval_steps.filter(status=StepStatus.PENDING).order_by("-cycle", "order").first()
