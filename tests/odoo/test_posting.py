"""Posting through the ``odoo.post_expense`` handler, against the sandbox over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from controlplane.connections.models import Binding
from controlplane.exceptions.models import ExceptionRecord
from controlplane.expenses.states import PostingState
from controlplane.masterdata import models as md
from controlplane.odoo.handlers import post_expense_handler
from controlplane.odoo.imports import odoo_import_masterdata
from controlplane.odoo.models import LedgerState, PostingLedger
from tests.factories import EmployeeFactory, ExpenseCategoryFactory
from tests.odoo.conftest import own
from tests.odoo.factories import posting_job, ready_expense

pytestmark = pytest.mark.django_db

ACCOUNTING = ("gl_account", "analytic_account", "tax_code", "currency", "exchange_rate", "expense_category",
              "category_accounting")


@pytest.fixture(params=["expense", "journal_entry"])
def mode(request):
    return request.param


@pytest.fixture
def mapped(odoo_system, entity, worker, mode):
    """Master data imported from the sandbox: FOOD category, the 15% purchase tax, the analytic account."""
    own(odoo_system, *ACCOUNTING)
    odoo_import_masterdata(actor=worker, system=odoo_system)
    entity.posting_mode = mode
    entity.save()
    return {
        "category": md.ExpenseCategory.objects.get(code="FOOD"),
        "tax": md.TaxCode.objects.get(pk=Binding.objects.get(system=odoo_system, external_model="account.tax",
                                                             external_id="2").object_id),
        "analytic": md.AnalyticAccount.objects.get(legal_entity=entity, name="Sandbox Project"),
    }


def documents(rpc, mode, ref):
    """The Odoo records carrying ``ref`` (hr.expense names in expense mode, bill refs otherwise)."""
    if mode == "expense":
        return rpc("hr.expense", "search_read", ["|", ("name", "=", ref), ("name", "=like", f"{ref}/%")],
                   fields=["name", "total_amount_currency"])
    return rpc("account.move", "search_read", [("ref", "=", ref)], fields=["amount_total", "state"])


def test_handler_posts_a_batch_and_a_rerun_creates_nothing(odoo_system, entity, mapped, mode, rpc, sandbox):
    # given three finance-reviewed expenses, one of them with two lines
    employee = EmployeeFactory(legal_entity=entity, email="poster@corp.example")
    expenses = [ready_expense(entity=entity, employee=employee, analytic=mapped["analytic"], **kw)
                for kw in ({"category": mapped["category"], "tax": mapped["tax"]},
                           {"category": mapped["category"], "tax": mapped["tax"], "amounts": ("23.00", "46.00")},
                           {"category": mapped["category"], "amounts": ("12.50",), "receipt": False})]
    jobs = [posting_job(e, odoo_system) for e in expenses]
    # when the worker runs the handler on the batch
    outcomes = post_expense_handler(jobs)
    # then every job succeeded, every expense is posted with its Odoo document
    assert {o.kind for o in outcomes.values()} == {"ok"}, outcomes
    for expense in expenses:
        expense.refresh_from_db()
        assert expense.posting_state == PostingState.POSTED
        ledger = PostingLedger.objects.get(system=odoo_system, reference=expense.posting_reference)
        assert ledger.state == LedgerState.POSTED and ledger.document_name and ledger.amount_total == expense.total_amount
        bound_to = "hr.expense" if mode == "expense" else "account.move"
        assert Binding.objects.filter(system=odoo_system, external_model=bound_to,
                                      external_ref__startswith=expense.posting_reference).exists()
        found = documents(rpc, mode, expense.posting_reference)
        assert len(found) == (expense.lines.count() if mode == "expense" else 1)
    # and the employee was exported first
    assert Binding.objects.filter(system=odoo_system, external_model="hr.employee", object_id=str(employee.pk)).exists()
    creates = sandbox.stats()
    # when the handler runs again on the same jobs (a redelivered message)
    again = post_expense_handler(jobs)
    # then the jobs succeed again and Odoo holds nothing new
    assert {o.kind for o in again.values()} == {"ok"}
    for expense in expenses:
        assert len(documents(rpc, mode, expense.posting_reference)) == (expense.lines.count() if mode == "expense" else 1)
    assert sandbox.stats().get("records_created") == creates.get("records_created")


def test_missing_product_is_a_permanent_missing_mapping(odoo_system, entity, mapped, rpc):
    # given an expense in a category Odoo has no product for
    unmapped = ExpenseCategoryFactory(code="YACHTS")
    expense = ready_expense(entity=entity, employee=EmployeeFactory(legal_entity=entity), category=unmapped)
    job = posting_job(expense, odoo_system)
    # when posting
    outcome = post_expense_handler([job])[job.id]
    # then the job is permanent, a missing-mapping exception names the category, Odoo got nothing
    assert outcome.kind == "permanent" and "YACHTS" in outcome.error
    assert not outcome.open_exception
    exc = ExceptionRecord.objects.get(kind="missing_mapping")
    assert "YACHTS" in exc.title and exc.status == "open"
    assert PostingLedger.objects.get(reference=expense.posting_reference).state == LedgerState.FAILED
    assert documents(rpc, "journal_entry", expense.posting_reference) == []
    # and a second attempt does not open a second exception
    post_expense_handler([job])
    assert ExceptionRecord.objects.filter(kind="missing_mapping").count() == 1


def test_amounts_in_odoo_match(odoo_system, entity, mapped, mode, rpc):
    # given an expense of 115.00 with 15% tax included
    expense = ready_expense(entity=entity, employee=EmployeeFactory(legal_entity=entity), category=mapped["category"],
                            tax=mapped["tax"], analytic=mapped["analytic"])
    job = posting_job(expense, odoo_system)
    # when posted
    assert post_expense_handler([job])[job.id].kind == "ok"
    # then Odoo's document totals 115.00
    [doc] = documents(rpc, mode, expense.posting_reference)
    total = doc["total_amount_currency"] if mode == "expense" else doc["amount_total"]
    assert Decimal(str(total)).quantize(Decimal("0.01")) == Decimal("115.00")
