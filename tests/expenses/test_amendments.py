"""Amendments: revisions and snapshots, material vs immaterial, before / after approval,
after posting (held, exception, never a second posting), and the owner of the content."""

from __future__ import annotations

import pytest

from controlplane.approvals.models import StepStatus
from controlplane.core.actors import Actor
from controlplane.core.errors import NotAllowed, ValidationFailed
from controlplane.exceptions.models import ExceptionRecord
from controlplane.expenses import services as s
from tests.expenses.factories import line, make_expense, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def _amend(world, expense, **data):
    return s.expense_amend(actor=world.actor("amended at source"), expense_id=expense.pk, data=data)


def _approved(world):
    expense = make_expense(world, submit=True)
    return s.approval_decide(actor=world.user_actor("mgr"), expense_id=expense.pk, approver=world.people["mgr"],
                             decision="approve")


def test_amendment_in_draft_makes_a_revision_with_snapshot(world):
    expense = make_expense(world)
    expense = _amend(world, expense, lines=[line("80.00")])
    assert (expense.revision, expense.total_amount, expense.approval_state) == (2, 80, "draft")
    snaps = list(expense.revisions.order_by("revision").values_list("revision", "material", "changed"))
    assert snaps == [(1, True, []), (2, True, ["lines"])]
    assert expense.revisions.get(revision=2).snapshot["lines"][0]["amount"] == "80.00"


@pytest.mark.parametrize("change", [
    {"lines": [line("120.00")]},                                   # amount
    {"lines": [line("100.00", category="MEALS")]},                  # category
    {"lines": [line("100.00", allocations=[{"percent": "100", "project": "APOLLO"}])]},  # allocation
    {"employee": "EMP2"},                                           # employee
    {"currency": "USD", "lines": [line("100.00")]},                 # currency
], ids=["amount", "category", "allocation", "employee", "currency"])
@pytest.mark.parametrize("stage", ["submitted", "approved"])
def test_material_amendment_in_approval_resets_and_reroutes(world, change, stage):
    expense = make_expense(world, submit=True) if stage == "submitted" else _approved(world)
    expense = _amend(world, expense, **change)
    assert (expense.approval_state, expense.revision) == ("submitted", 2)
    steps = list(expense.approval_steps.order_by("cycle").values_list("cycle", "revision", "status"))
    first_status = StepStatus.SUPERSEDED if stage == "submitted" else StepStatus.APPROVED
    assert steps == [(1, 1, first_status), (2, 2, StepStatus.PENDING)]
    assert expense.policy_results.filter(revision=2).exists()


@pytest.mark.parametrize("change", [{"purpose": "Other words"}, {"lines": [line(merchant="Railways Ltd")]}],
                         ids=["purpose", "merchant"])
def test_immaterial_amendment_keeps_approvals(world, change):
    expense = _approved(world)
    expense = _amend(world, expense, **change)
    assert (expense.approval_state, expense.revision) == ("manager_approved", 2)
    assert expense.revisions.get(revision=2).material is False
    assert list(expense.approval_steps.values_list("status", flat=True)) == [StepStatus.APPROVED]


def test_replayed_amendment_changes_nothing(world):
    expense = make_expense(world)
    _amend(world, expense, purpose="Same")
    expense = _amend(world, expense, purpose="Same")
    assert expense.revision == 2


def test_material_amendment_with_hard_failure_writes_nothing(world):
    expense = make_expense(world, submit=True)
    with pytest.raises(ValidationFailed) as err:
        _amend(world, expense, lines=[line("50.00", category="UNMAPPED")])
    assert [p.field for p in err.value.errors] == ["lines.0.category"]
    expense.refresh_from_db()
    assert (expense.revision, expense.total_amount) == (1, 100)


@pytest.mark.parametrize("posting", ["posting", "posted"])
def test_material_amendment_after_posting_is_held_and_never_reposts(world, posting):
    from controlplane.sync.models import OutboxJob

    expense = s.expense_finance_review(actor=world.user_actor("fin"), expense_id=_approved(world).pk,
                                       reviewer=world.people["fin"])
    if posting == "posted":
        s.expense_mark_posted(actor=Actor(), expense_id=expense.pk, revision=1, odoo_ref="9")
    expense = _amend(world, expense, lines=[line("999.00")])
    # Then nothing changed in the content, an exception holds the amendment, and one posting job exists
    assert (expense.revision, expense.total_amount, expense.posting_state) == (1, 100, posting)
    held = expense.revisions.get(applied=False)
    assert held.snapshot["lines"][0]["amount"] == "999.00"
    record = ExceptionRecord.objects.get(kind="amendment_after_posting", object_id=str(expense.pk))
    assert record.payload["after"]["lines"][0]["amount"] == "999.00"
    _amend(world, expense, lines=[line("999.00")])  # the same amendment again: same exception
    assert ExceptionRecord.objects.filter(kind="amendment_after_posting").count() == 1
    assert OutboxJob.objects.filter(operation="odoo.post_expense").count() == 1


def test_immaterial_amendment_after_posting_keeps_the_posted_reference(world):
    expense = s.expense_finance_review(actor=world.user_actor("fin"), expense_id=_approved(world).pk,
                                       reviewer=world.people["fin"])
    reference = expense.posting_reference
    expense = _amend(world, expense, purpose="typo fixed")
    assert expense.revision == 2
    assert expense.posting_reference == reference
    expense = s.expense_mark_posted(actor=Actor(), expense_id=expense.pk, revision=1, odoo_ref="9")
    assert expense.posting.reference == reference


def test_amendment_from_another_system_is_refused(world):
    expense = make_expense(world)
    with pytest.raises(NotAllowed) as err:
        s.expense_amend(actor=Actor(system=world.other_source), expense_id=expense.pk, data={"purpose": "x"})
    assert err.value.code == "not_system_of_record"
    with pytest.raises(NotAllowed):
        s.expense_amend(actor=Actor(user=world.people["fin"].user), expense_id=expense.pk, data={"purpose": "x"})
    expense.refresh_from_db()
    assert expense.revision == 1


def test_upsert_from_source_creates_then_amends(world):
    data = {"employee": "EMP", "currency": "EUR", "legal_entity": world.entity.code, "lines": [line("10.00")]}
    first, created = s.expense_upsert_from_source(actor=world.actor(), source_system=world.source, source_id="A",
                                                  data=data)
    again, created_again = s.expense_upsert_from_source(actor=world.actor(), source_system=world.source,
                                                        source_id="A", data=data)
    assert (created, created_again, first.pk == again.pk, again.revision) == (True, False, True, 1)


def test_invalid_input_reports_every_field(world):
    bad = {"employee": "NOBODY", "currency": "EUR", "legal_entity": world.entity.code, "lines": []}
    with pytest.raises(ValidationFailed) as err:
        s.expense_upsert_from_source(actor=world.actor(), source_system=world.source, source_id="B", data=bad)
    assert [p.field for p in err.value.errors] == ["employee"]
    bad = {"employee": "EMP", "currency": "EUR", "legal_entity": world.entity.code,
           "lines": [{"date": "2024-13-01", "category": "NOPE", "amount": "1.234",
                      "allocations": [{"percent": "150"}]}]}
    with pytest.raises(ValidationFailed) as err:
        s.expense_upsert_from_source(actor=world.actor(), source_system=world.source, source_id="B", data=bad)
    assert {p.field for p in err.value.errors} == {
        "lines.0.date", "lines.0.category", "lines.0.amount", "lines.0.allocations.0.percent"}


def test_posting_carries_the_reviewed_revision(world):
    from controlplane.core.errors import Conflict
    from controlplane.sync.models import OutboxJob

    # Given an expense amended once before submission (revision 2), approved and reviewed
    expense = _amend(world, make_expense(world), lines=[line("90.00")])
    s.expense_submit(actor=world.actor(), expense_id=expense.pk)
    s.approval_decide(actor=world.user_actor("mgr"), expense_id=expense.pk, approver=world.people["mgr"],
                      decision="approve")
    expense = s.expense_finance_review(actor=world.user_actor("fin"), expense_id=expense.pk,
                                       reviewer=world.people["fin"])
    # Then the job and the reference name revision 2, and a report for revision 1 is refused
    assert expense.posting_revision == 2 and expense.posting_reference.endswith("-R2")
    assert OutboxJob.objects.get(operation="odoo.post_expense").idempotency_key == f"odoo.post_expense:{expense.pk}:r2"
    with pytest.raises(Conflict) as err:
        s.expense_mark_posted(actor=Actor(), expense_id=expense.pk, revision=1)
    assert err.value.code == "revision_mismatch"
