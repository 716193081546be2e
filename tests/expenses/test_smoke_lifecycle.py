"""Given a world, when an expense goes through the whole lifecycle, then every state is reached."""

from __future__ import annotations

from decimal import Decimal

import pytest

from controlplane.core.actors import Actor
from controlplane.expenses import services as s
from tests.expenses.factories import make_expense, make_world

pytestmark = pytest.mark.django_db


def test_full_lifecycle_reaches_archive():
    world = make_world()
    expense = make_expense(world, lines=[{"date": None or __import__("django.utils.timezone").utils.timezone.localdate(),
                                          "category": "TRAVEL", "merchant": "Rail", "amount": "115.00"}], submit=True)
    assert expense.approval_state == "submitted"
    assert expense.total_amount == Decimal("115.00")
    line = expense.lines.get()
    assert (line.net_amount, line.tax_amount) == (Decimal("100.00"), Decimal("15.00"))
    expense = s.approval_decide(actor=world.user_actor("mgr"), expense_id=expense.pk, approver=world.people["mgr"],
                                decision="approve", comment="ok")
    assert expense.approval_state == "manager_approved"
    expense = s.expense_finance_review(actor=Actor(user=world.people["fin"].user), expense_id=expense.pk,
                                       reviewer=world.people["fin"].user, comment="fine")
    assert (expense.approval_state, expense.posting_state) == ("finance_reviewed", "posting")
    expense = s.expense_mark_reimbursed(actor=Actor(user=world.people["pay"].user), expense_id=expense.pk,
                                        payment_ref="PAY-1", paid_by=world.people["pay"])
    expense = s.expense_mark_posted(actor=Actor(reason="posting"), expense_id=expense.pk, revision=1,
                                    odoo_ref="42", document_name="EXP/0001")
    expense = s.expense_archive(actor=Actor(reason="done"), expense_id=expense.pk)
    assert expense.approval_state == "archived"
