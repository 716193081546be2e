"""Reconciliation and read-back against the sandbox: planted differences are found and acted on."""

from __future__ import annotations

import pytest

from controlplane.connections.models import OwnershipRule
from controlplane.core.actors import Actor
from controlplane.exceptions.models import ExceptionRecord
from controlplane.expenses.services import expense_mark_reimbursed
from controlplane.expenses.states import PaymentState
from controlplane.odoo.handlers import post_expense_handler
from controlplane.odoo.models import ItemKind, ItemStatus, LedgerState, PostingLedger, ReconciliationRun
from controlplane.odoo.readback import odoo_readback
from controlplane.odoo.reconciliation import reconciliation_run
from controlplane.odoo.reconciliation_actions import (
    reconciliation_item_open_exception,
    reconciliation_item_repost,
    reconciliation_item_resolve,
)
from controlplane.sync.models import OutboxJob
from tests.factories import EmployeeFactory, ExternalSystemFactory
from tests.odoo.factories import posting_job, ready_expense
from tests.odoo.test_posting import mapped, mode  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def post_each(entity, mapped, system, count):  # noqa: F811
    """``count`` expenses, each posted in its own batch (Odoo 19 shares one entry per batch and employee)."""
    employee = EmployeeFactory(legal_entity=entity, email="recon@corp.example")
    expenses = []
    for _ in range(count):
        expense = ready_expense(entity=entity, employee=employee, category=mapped["category"], tax=mapped["tax"],
                                receipt=False)
        job = posting_job(expense, system)
        assert post_expense_handler([job])[job.id].kind == "ok"
        expenses.append(expense)
    return expenses


def move_of(system, expense) -> int:
    return PostingLedger.objects.get(system=system, reference=expense.posting_reference).move_ids[0]


def items_by_ref(run):
    out = {}
    for item in run.items.all():
        out.setdefault(item.reference, set()).add(item.kind)
    return out


def test_reconciliation_finds_planted_differences(odoo_system, entity, mapped, mode, rpc, worker):  # noqa: F811
    # given five posted expenses
    clean, changed, missing, duplicated, reimbursed = post_each(entity, mapped, odoo_system, 5)
    # and behind our back: an amount changed, a document deleted, a second bill with the same ref,
    rpc("account.move", "write", [move_of(odoo_system, changed)], {"amount_total": 999.0})
    rpc("account.move", "unlink", [move_of(odoo_system, missing)])
    rpc("account.move", "create", [{"move_type": "in_invoice", "ref": duplicated.posting_reference, "partner_id": 3,
                                    "invoice_line_ids": [(0, 0, {"name": "again", "price_unit": 100.0, "quantity": 1})]}])
    # and one expense reimbursed here while Odoo shows it unpaid
    expense_mark_reimbursed(actor=Actor(reason="payroll file"), expense_id=reimbursed.pk, payment_ref="PAY-1")
    # when reconciling
    run = reconciliation_run(actor=worker, system=odoo_system)
    # then each planted difference is an item, and the clean expense has none
    found = items_by_ref(run)
    assert run.status == ReconciliationRun.Status.COMPLETED and run.checked == 5
    assert clean.posting_reference not in found
    assert found[changed.posting_reference] == {ItemKind.AMOUNT}
    assert found[missing.posting_reference] == {ItemKind.MISSING}
    assert ItemKind.DUPLICATE in found[duplicated.posting_reference]
    assert found[reimbursed.posting_reference] == {ItemKind.REIMBURSED_NOT_PAID}
    # when the duplicate goes to the exception queue and the drift is marked resolved
    dup_item = run.items.get(reference=duplicated.posting_reference, kind=ItemKind.DUPLICATE)
    reconciliation_item_open_exception(actor=worker, item_id=dup_item.pk, note="two bills")
    drift = run.items.get(reference=reimbursed.posting_reference)
    reconciliation_item_resolve(actor=worker, item_id=drift.pk, note="payroll pays; Odoo payment not tracked")
    # then one reconciliation exception names the reference, and the drift item is closed
    exc = ExceptionRecord.objects.get(kind="reconciliation_mismatch")
    assert duplicated.posting_reference in exc.title
    drift.refresh_from_db()
    assert drift.status == ItemStatus.RESOLVED and drift.history.count() >= 2


def test_repost_of_a_missing_bill_recreates_it_once(odoo_system, entity, mapped, rpc, worker):  # noqa: F811
    # given a posted vendor bill that was deleted in Odoo
    entity.posting_mode = "journal_entry"
    entity.save()
    [expense] = post_each(entity, mapped, odoo_system, 1)
    rpc("account.move", "unlink", [move_of(odoo_system, expense)])
    item = reconciliation_run(actor=worker, system=odoo_system).items.get(kind=ItemKind.MISSING)
    # when finance re-posts it
    reconciliation_item_repost(actor=worker, item_id=item.pk, reason="deleted by mistake in Odoo")
    item.refresh_from_db()
    job = OutboxJob.objects.get(pk=item.outbox_job_id)
    assert job.payload["repost_reason"] == "deleted by mistake in Odoo" and ":repost:" in job.idempotency_key
    assert post_expense_handler([job])[job.id].kind == "ok"
    # then Odoo holds exactly one bill with the reference again, and the next run is clean
    assert rpc("account.move", "search_count", [("ref", "=", expense.posting_reference)]) == 1
    assert PostingLedger.objects.get(reference=expense.posting_reference).state == LedgerState.POSTED
    assert not reconciliation_run(actor=worker, system=odoo_system).items.exists()


def test_readback_reports_paid_and_marks_reimbursed_only_when_odoo_owns_payment(
        odoo_system, entity, mapped, rpc, worker):  # noqa: F811
    # given two posted bills that Odoo shows paid
    entity.posting_mode = "journal_entry"
    entity.save()
    first, second = post_each(entity, mapped, odoo_system, 2)
    for expense in (first, second):
        rpc("account.move", "write", [move_of(odoo_system, expense)], {"payment_state": "paid"})
    # when reading back while payroll owns the payment stage
    payroll = ExternalSystemFactory(code="payroll", kind="payroll")
    rule = OwnershipRule.objects.create(object_kind="expense", stage="payment", owner=payroll)
    odoo_readback(actor=worker, system=odoo_system, expense_ids=[first.pk])
    # then "paid" is recorded as data only
    first.refresh_from_db()
    assert PostingLedger.objects.get(reference=first.posting_reference).payment_state == "paid"
    assert first.payment_state == PaymentState.UNPAID
    # when Odoo owns the payment stage
    rule.owner = odoo_system
    rule.save()
    odoo_readback(actor=Actor(system=odoo_system, reason="read-back"), system=odoo_system, expense_ids=[second.pk])
    # then the expense is marked reimbursed
    second.refresh_from_db()
    assert second.payment_state == PaymentState.PAID and second.payment_reference.startswith("odoo:")
