"""Approval chain services.

``chain_freeze``, ``chain_supersede`` and ``step_decide`` work on an expense the caller has
already locked, inside the caller's transaction (the expense services in
``controlplane.expenses.services``). ``escalate_overdue_steps`` and ``delegation_create``
are services of their own.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from controlplane.approvals.models import OPEN_STEP, ApprovalStep, Delegation, StepKind, StepStatus
from controlplane.approvals.routing import plan_chain
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import Conflict, FieldProblem, NotAllowed, ValidationFailed
from controlplane.expenses.sod import SodRefusal, person_keys, same_person


def _activate(step: ApprovalStep, now: dt.datetime) -> None:
    step.status = StepStatus.PENDING
    step.activated_at = now
    step.due_at = now + timedelta(hours=step.sla_hours)
    step.save()


def chain_freeze(*, expense, now: dt.datetime | None = None, lines: list | None = None) -> list[ApprovalStep]:
    """Plan and store a new chain (a new cycle) for the expense's current revision; the first
    step becomes pending. Open steps of earlier cycles are superseded. ``lines``: the
    expense's stored lines (``policy.stored_lines``) when the caller has them."""
    now = now or timezone.now()
    plan = plan_chain(expense, at=now, lines=lines)
    earlier = list(expense.approval_steps.all())  # one read for both the open steps and the last cycle
    _supersede([s for s in earlier if s.status in OPEN_STEP], why="re-routed")
    cycle = max((s.cycle for s in earlier), default=0) + 1
    steps = []
    for order, planned in enumerate(plan, start=1):
        step = ApprovalStep(
            expense=expense, revision=expense.revision, cycle=cycle, order=order, kind=planned.kind,
            rule=planned.rule, approver=planned.approver, group=planned.group, sla_hours=planned.sla_hours,
            delegated_from=planned.delegated_from, routing_note="; ".join(planned.notes)[:255],
        )
        step.save()
        steps.append(step)
    _activate(steps[0], now)
    return steps


def _supersede(steps, *, why: str) -> int:
    for step in steps:
        step.status = StepStatus.SUPERSEDED
        step.comment = step.comment or why
        step.save()
    return len(steps)


def chain_supersede(*, expense, why: str) -> int:
    """Close every open step of the expense (withdrawal, re-routing, return, rejection)."""
    return _supersede(list(expense.approval_steps.filter(status__in=OPEN_STEP)), why=why)


def _may_decide(step: ApprovalStep, approver, now) -> tuple[bool, object | None]:
    """(allowed, delegated_from) for ``approver`` on ``step``."""
    from controlplane.approvals.selectors import delegators_of

    if step.approver_id is not None:
        if step.approver_id == approver.pk:
            return True, None
        if step.approver_id in delegators_of(approver, at=now):
            return True, step.approver
        return False, None
    if step.group_id is not None and approver.user_id:
        return approver.user.groups.filter(pk=step.group_id).exists(), None
    return False, None


def step_decide(*, actor: Actor, expense, approver, decision: str, comment: str = "",
                now: dt.datetime | None = None) -> str:
    """Decide the pending step of the locked ``expense``. Returns ``"step_approved"``,
    ``"all_approved"``, ``"returned"`` or ``"rejected"``; the caller transitions the expense.

    Refuses (``SodRefusal``) the submitter — as approver or as acting user — and (NotAllowed)
    anyone not assigned, not in the step's group and not a delegate in force."""
    now = now or timezone.now()
    if decision not in ("approve", "return", "reject"):
        raise ValidationFailed("Unknown decision.", [FieldProblem("decision", "invalid",
                                                                  "One of approve, return, reject.")])
    submitter = person_keys(expense.employee)
    if same_person(person_keys(approver), submitter) or same_person(person_keys(actor.user), submitter):
        raise SodRefusal("The submitter may not decide on their own expense.", rule="self_approval",
                         expense=expense, person=f"employee:{approver.pk}")
    # The open steps in one read: the pending one to decide, and what follows it or is closed with it.
    open_steps = list(expense.approval_steps.select_for_update().filter(status__in=OPEN_STEP)
                      .order_by("-cycle", "order"))
    step = next((s for s in open_steps if s.status == StepStatus.PENDING), None)
    if step is None:
        raise Conflict("No approval step is pending on this expense.", code="no_pending_step")
    allowed, delegated_from = _may_decide(step, approver, now)
    if not allowed:
        raise NotAllowed(f"{approver} is not the approver of the pending step.", code="not_assigned")
    if step.kind == StepKind.GROUP and expense.approval_steps.filter(
        cycle=step.cycle, status=StepStatus.APPROVED, decided_by=approver
    ).exists():
        raise NotAllowed(f"{approver} already approved a step of this chain.", code="already_approved")
    step.decided_by = approver
    step.decided_by_user = actor.user if getattr(actor.user, "pk", None) else approver.user
    step.decided_at = now
    step.comment = comment
    if delegated_from is not None:
        step.delegated_from = delegated_from
    step.status = {"approve": StepStatus.APPROVED, "return": StepStatus.RETURNED, "reject": StepStatus.REJECTED}[decision]
    with acting(actor, f"step {step.order} {step.status}: {comment}".strip().rstrip(":")):
        step.save()
    if decision != "approve":
        _supersede([s for s in open_steps if s is not step], why=f"closed: step {step.order} {step.status}")
        return "returned" if decision == "return" else "rejected"
    following = next((s for s in open_steps if s.cycle == step.cycle and s.status == StepStatus.WAITING), None)
    if following is None:
        return "all_approved"
    _activate(following, now)
    return "step_approved"


def escalate_overdue_steps(*, actor: Actor, now: dt.datetime | None = None) -> int:
    """Move each pending step past its due time to the next manager up (skipping the submitter
    and anyone already in the chain), recording who it came from and why. Group steps and
    steps with nobody above stay where they are. Returns how many steps moved."""
    now = now or timezone.now()
    moved = 0
    overdue_ids = list(ApprovalStep.objects.filter(status=StepStatus.PENDING, due_at__lt=now,
                                                   approver__isnull=False).values_list("pk", flat=True))
    for step_id in overdue_ids:
        with transaction.atomic():
            step = (ApprovalStep.objects.select_for_update(of=("self",)).select_related("approver", "expense__employee")
                    .filter(pk=step_id, status=StepStatus.PENDING, due_at__lt=now).first())
            if step is None:
                continue  # decided or escalated meanwhile
            in_chain = set(step.expense.approval_steps.filter(cycle=step.cycle, approver__isnull=False)
                           .values_list("approver_id", flat=True)) | {step.expense.employee_id}
            target = step.approver.manager
            while target is not None and (target.pk in in_chain or not target.active):
                target = target.manager
            if target is None:
                continue
            reason = (f"escalated: step {step.order} waited past its {step.sla_hours} h service level "
                      f"(due {step.due_at:%Y-%m-%d %H:%M} UTC); moved from {step.approver} to {target}")
            step.escalated_from = step.approver
            step.approver = target
            step.delegated_from = None
            step.escalation_reason = reason
            step.activated_at = now
            step.due_at = now + timedelta(hours=step.sla_hours)
            with acting(actor, reason):
                step.save()
            moved += 1
    return moved


def delegation_create(*, actor: Actor, approver, delegate, start: dt.datetime, end: dt.datetime,
                      reason: str = "") -> Delegation:
    """Let ``delegate`` decide for ``approver`` from ``start`` until ``end`` (exclusive)."""
    problems = []
    if approver.pk == delegate.pk:
        problems.append(FieldProblem("delegate", "self", "An approver cannot delegate to themselves."))
    if end <= start:
        problems.append(FieldProblem("end", "before_start", "The end must be after the start."))
    if problems:
        raise ValidationFailed("The delegation is not valid.", problems)
    with transaction.atomic(), acting(actor, reason or f"delegation {approver} → {delegate}"):
        return Delegation.objects.create(approver=approver, delegate=delegate, start=start, end=end, reason=reason)
