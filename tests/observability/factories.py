"""Rows for observability tests, written directly (the figures are what we test, not the
lifecycle that normally produces them). States are given at creation: FSM fields are
protected against later assignment, not against construction."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.contrib.auth.models import Group
from django.utils import timezone

from controlplane.approvals.models import ApprovalStep, StepKind, StepStatus
from controlplane.connections.models import SystemKind
from controlplane.core.actors import Actor
from controlplane.exceptions.services import exception_open
from controlplane.expenses.models import Expense
from controlplane.expenses.states import ApprovalState, PaymentState, PostingState
from controlplane.sync.models import AttemptOutcome, JobState, SyncAttempt
from tests import factories as f
from tests.sync.factories import OutboxJobFactory

_seq = itertools.count(1)
SYSTEM_ACTOR = Actor(reason="test data")


def staff_user(role: str | None, username: str, password: str = "pw-for-tests-only"):
    """An active staff user in the role's group (the roles grant the permissions)."""
    user = f.UserFactory(username=username, is_staff=True, password=password)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def expense(*, entity, employee=None, source=None, approval=ApprovalState.SUBMITTED,
            posting=PostingState.NOT_POSTED, payment=PaymentState.UNPAID, posted_at=None) -> Expense:
    source = source or f.ExternalSystemFactory(code=f"src-{next(_seq)}", kind=SystemKind.EXPENSE_PLATFORM)
    employee = employee or f.EmployeeFactory(legal_entity=entity)
    return Expense.objects.create(
        source_system=source, source_id=f"S{next(_seq)}", employee=employee, legal_entity=entity,
        currency=entity.base_currency, total_amount=Decimal("10.00"), approval_state=approval,
        posting_state=posting, payment_state=payment, posted_at=posted_at,
    )


def pending_step(exp: Expense, *, kind=StepKind.MANAGER, activated_at: dt.datetime, due_at=None,
                 order: int = 1) -> ApprovalStep:
    return ApprovalStep.objects.create(expense=exp, revision=1, order=order, kind=kind, status=StepStatus.PENDING,
                                       activated_at=activated_at, due_at=due_at)


def open_exception(**kwargs):
    kwargs.setdefault("kind", "validation")
    kwargs.setdefault("title", f"exception {next(_seq)}")
    return exception_open(actor=SYSTEM_ACTOR, **kwargs)


def job(*, state=JobState.PENDING, queue="default", operation="test.record", target=None, next_attempt_at=None,
        finished_at=None, **extra):
    return OutboxJobFactory(state=state, queue=queue, operation=operation, target=target,
                            next_attempt_at=next_attempt_at or timezone.now() - dt.timedelta(seconds=5),
                            finished_at=finished_at, **extra)


def attempt(job_, *, outcome=AttemptOutcome.SUCCEEDED, duration_ms=100, started_at=None) -> SyncAttempt:
    return SyncAttempt.objects.create(job=job_, number=job_.attempts + 1, outcome=outcome, duration_ms=duration_ms,
                                      started_at=started_at or timezone.now() - dt.timedelta(minutes=1))
