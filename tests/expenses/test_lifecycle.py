"""Lifecycle services: transitions, history with actor and reason, events and the posting job,
posting and payment in either order, segregation of duties, delegation and escalation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from controlplane.approvals.models import StepStatus
from controlplane.approvals.services import delegation_create, escalate_overdue_steps
from controlplane.core.actors import Actor
from controlplane.core.errors import Conflict, NotAllowed
from controlplane.exceptions.models import ExceptionRecord
from controlplane.expenses import services as s
from tests.expenses.factories import ApprovalPolicyFactory, add_rule, make_expense, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def _approve(world, expense, who="mgr"):
    return s.approval_decide(actor=world.user_actor(who), expense_id=expense.pk, approver=world.people[who],
                             decision="approve", comment="ok")


def _reviewed(world):
    expense = _approve(world, make_expense(world, submit=True))
    return s.expense_finance_review(actor=world.user_actor("fin"), expense_id=expense.pk,
                                    reviewer=world.people["fin"].user, comment="checked")


def test_transition_leaves_one_history_row_with_actor_and_reason(world):
    expense = make_expense(world)
    before = expense.history.count()
    expense = s.expense_submit(actor=world.actor("sent by the app"), expense_id=expense.pk)
    assert expense.history.count() == before + 1
    row = expense.history.first()
    assert (row.approval_state, row.history_system, row.history_change_reason) == (
        "submitted", "expenses-app", "sent by the app")


def test_submission_records_event_and_finance_review_enqueues_one_posting(world):
    from controlplane.events.models import DomainEvent
    from controlplane.sync.models import OutboxJob

    expense = _reviewed(world)
    types = set(DomainEvent.objects.filter(object_id=str(expense.pk)).values_list("event_type", flat=True))
    assert {"expense.submitted", "expense.approved", "expense.finance_reviewed"} <= types
    job = OutboxJob.objects.get(operation="odoo.post_expense")
    assert job.idempotency_key == f"odoo.post_expense:{expense.pk}:r1"
    assert job.target_id == world.odoo.pk
    assert expense.posting_reference == f"CP-{expense.public_id.hex[:12].upper()}-R1"


@pytest.mark.parametrize("order", ["posted_then_paid", "paid_then_posted"])
def test_posting_and_payment_finish_in_either_order_then_archive(world, order):
    expense = _reviewed(world)
    post = lambda: s.expense_mark_posted(actor=Actor(reason="ledger"), expense_id=expense.pk,  # noqa: E731
                                         revision=1, odoo_ref="7", document_name="EXP/7")
    pay = lambda: s.expense_mark_reimbursed(actor=world.user_actor("pay"), expense_id=expense.pk,  # noqa: E731
                                            payment_ref="P-1", paid_by=world.people["pay"])
    first, second = (post, pay) if order == "posted_then_paid" else (pay, post)
    first()
    with pytest.raises(Conflict):
        s.expense_archive(actor=Actor(reason="too early"), expense_id=expense.pk)
    second()
    expense = s.expense_archive(actor=Actor(reason="settled"), expense_id=expense.pk)
    assert (expense.approval_state, expense.posting_state, expense.payment_state) == ("archived", "posted", "paid")
    # Replays are harmless: same revision, same payment reference
    post_again = s.expense_mark_posted(actor=Actor(reason="replay"), expense_id=expense.pk, revision=1, odoo_ref="7")
    assert post_again.posting.document_name == "EXP/7"


def test_return_then_resubmit_freezes_a_new_chain(world):
    expense = make_expense(world, submit=True)
    expense = s.approval_decide(actor=world.user_actor("mgr"), expense_id=expense.pk, approver=world.people["mgr"],
                                decision="return", comment="add receipt")
    assert expense.approval_state == "returned"
    expense = s.expense_submit(actor=world.actor(), expense_id=expense.pk)
    cycles = list(expense.approval_steps.values_list("cycle", "status").order_by("cycle"))
    assert cycles == [(1, StepStatus.RETURNED), (2, StepStatus.PENDING)]


def test_reject_and_withdraw_are_terminal(world):
    rejected = make_expense(world, submit=True)
    rejected = s.approval_decide(actor=world.user_actor("mgr"), expense_id=rejected.pk, approver=world.people["mgr"],
                                 decision="reject", comment="no")
    withdrawn = s.expense_withdraw(actor=world.actor(), expense_id=make_expense(world, submit=True).pk, reason="dup")
    assert not withdrawn.approval_steps.filter(status__in=["pending", "waiting"]).exists()
    for expense in (rejected, withdrawn):
        with pytest.raises(Conflict):
            s.expense_submit(actor=world.actor(), expense_id=expense.pk)


def test_illegal_transitions_are_refused_and_leave_no_history(world):
    expense = make_expense(world)
    before = expense.history.count()
    for call in (
        lambda: s.approval_decide(actor=world.user_actor("mgr"), expense_id=expense.pk, approver=world.people["mgr"],
                                  decision="approve"),
        lambda: s.expense_finance_review(actor=world.user_actor("fin"), expense_id=expense.pk,
                                         reviewer=world.people["fin"]),
        lambda: s.expense_mark_posted(actor=Actor(), expense_id=expense.pk, revision=1),
        lambda: s.expense_mark_reimbursed(actor=world.user_actor("pay"), expense_id=expense.pk, payment_ref="x"),
        lambda: s.expense_archive(actor=Actor(), expense_id=expense.pk),
    ):
        with pytest.raises(Conflict):
            call()
    assert expense.history.count() == before


def test_not_assigned_approver_is_refused(world):
    expense = make_expense(world, submit=True)
    with pytest.raises(NotAllowed) as err:
        _approve(world, expense, who="peer")
    assert err.value.code == "not_assigned"


# --- segregation of duties ---------------------------------------------------------------

def _sod_exceptions(expense):
    return ExceptionRecord.objects.filter(kind="sod_conflict", object_id=str(expense.pk))


def test_sod_submitter_never_approves_even_in_the_group(world):
    # Given a group step and a submitter who is in that group
    policy = ApprovalPolicyFactory(legal_entity=world.entity)
    add_rule(policy, steps=[{"kind": "group", "group": world.finance}])
    world.people["emp"].user.groups.add(world.finance)
    expense = make_expense(world, submit=True)
    # When the submitter approves, then it is refused and recorded
    with pytest.raises(NotAllowed) as err:
        _approve(world, expense, who="emp")
    assert err.value.code == "sod_violation"
    assert _sod_exceptions(expense).count() == 1
    assert expense.approval_steps.get().status == StepStatus.PENDING


def test_sod_approver_never_does_the_finance_review(world):
    expense = _approve(world, make_expense(world, submit=True))
    with pytest.raises(NotAllowed) as err:
        s.expense_finance_review(actor=world.user_actor("mgr"), expense_id=expense.pk, reviewer=world.people["mgr"])
    assert err.value.code == "sod_violation"
    expense.refresh_from_db()
    assert expense.approval_state == "manager_approved"
    assert _sod_exceptions(expense).get().payload["rule"] == "approver_reviews"


def test_sod_reviewer_never_marks_paid(world):
    expense = _reviewed(world)
    with pytest.raises(NotAllowed) as err:
        s.expense_mark_reimbursed(actor=world.user_actor("fin"), expense_id=expense.pk, payment_ref="P")
    assert err.value.code == "sod_violation"
    expense.refresh_from_db()
    assert expense.payment_state == "unpaid"
    assert _sod_exceptions(expense).get().payload["rule"] == "reviewer_pays"


# --- delegation and escalation -------------------------------------------------------------

def test_delegate_decides_during_the_window_only(world):
    expense = make_expense(world, submit=True)
    now = timezone.now()
    delegation_create(actor=Actor(reason="holiday"), approver=world.people["mgr"], delegate=world.people["peer"],
                      start=now - dt.timedelta(hours=1), end=now + dt.timedelta(days=1))
    expense = _approve(world, expense, who="peer")
    step = expense.approval_steps.get()
    assert (step.decided_by.code, step.delegated_from.code, expense.approval_state) == ("PEER", "MGR",
                                                                                         "manager_approved")


def test_expired_delegation_gives_no_right(world):
    expense = make_expense(world, submit=True)
    now = timezone.now()
    delegation_create(actor=Actor(), approver=world.people["mgr"], delegate=world.people["peer"],
                      start=now - dt.timedelta(days=3), end=now - dt.timedelta(days=1))
    with pytest.raises(NotAllowed):
        _approve(world, expense, who="peer")


def test_delegation_in_force_at_submission_routes_to_the_delegate(world):
    now = timezone.now()
    delegation_create(actor=Actor(), approver=world.people["mgr"], delegate=world.people["peer"],
                      start=now - dt.timedelta(hours=1), end=now + dt.timedelta(days=1))
    step = make_expense(world, submit=True).approval_steps.get()
    assert (step.approver.code, step.delegated_from.code) == ("PEER", "MGR")


def test_overdue_step_escalates_to_the_next_manager_with_reason(world):
    # Given a step past its service level
    expense = make_expense(world, submit=True)
    step = expense.approval_steps.get()
    later = step.due_at + dt.timedelta(minutes=1)
    # When the escalation runs (twice: the second run finds nothing overdue)
    assert escalate_overdue_steps(actor=Actor(reason="beat"), now=later) == 1
    assert escalate_overdue_steps(actor=Actor(reason="beat"), now=later) == 0
    # Then the step moved one level up, saying why
    step.refresh_from_db()
    assert (step.approver.code, step.escalated_from.code) == ("VP", "MGR")
    assert "service level" in step.escalation_reason
    assert step.history.first().history_change_reason == step.escalation_reason
    _approve(world, expense, who="vp")


def test_escalation_task_is_registered_in_beat():
    from django_celery_beat.models import PeriodicTask

    from controlplane.approvals.tasks import ESCALATION_TASK, escalate_overdue_steps_task

    assert PeriodicTask.objects.filter(task=ESCALATION_TASK, enabled=True).exists()
    assert escalate_overdue_steps_task() == 0
