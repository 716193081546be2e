"""Reimbursements fed to Odoo: the ``odoo.register_payment`` trigger and handler.

The trigger runs in the lifecycle services (either order); the handler runs against the
sandbox over real HTTP, in both posting modes and both Odoo profiles.
"""

from __future__ import annotations

import xmlrpc.client

import pytest

from controlplane.connections.models import ExternalSystem, SystemKind
from controlplane.core.actors import Actor
from controlplane.expenses.services import expense_mark_posted, expense_mark_reimbursed
from controlplane.odoo.handlers import post_expense_handler
from controlplane.odoo.models import ItemKind, PostingLedger
from controlplane.odoo.payments import PAY, register_payment_handler
from controlplane.odoo.reconciliation import reconciliation_run
from controlplane.sync.models import OutboxJob, SyncMode, SyncPolicy
from tests.factories import CurrencyFactory, EmployeeFactory, ExpenseCategoryFactory, LegalEntityFactory
from tests.odoo.factories import posting_job, ready_expense
from tests.odoo.test_posting import mapped, mode  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
PAYROLL = Actor(reason="payroll file")
LEDGER = Actor(reason="odoo worker: posting")


def pay_jobs(expenses=None):
    jobs = OutboxJob.objects.filter(operation=PAY)
    if expenses is not None:
        jobs = jobs.filter(object_id__in=[str(e.pk) for e in expenses])
    return list(jobs.select_related("target").order_by("pk"))


@pytest.fixture
def plain_expense(db):
    """A finance-reviewed expense queued for posting, on an entity an Odoo system serves (no sandbox)."""
    entity = LegalEntityFactory(code="US09", base_currency=CurrencyFactory(code="USD"))
    system = ExternalSystem.objects.create(code="odoo-t", name="Odoo", kind=SystemKind.ODOO, protocol="xmlrpc",
                                           endpoint="http://127.0.0.1:9", database="x")
    system.legal_entities.add(entity)
    employee = EmployeeFactory(legal_entity=entity)
    return ready_expense(entity=entity, employee=employee, category=ExpenseCategoryFactory(), receipt=False), system


def test_paid_then_posted_queues_exactly_one_job(plain_expense):
    expense, system = plain_expense
    # given payroll paid the expense before the nightly posting
    expense_mark_reimbursed(actor=PAYROLL, expense_id=expense.pk, payment_ref="PAY-7")
    # then nothing is queued yet: Odoo holds no bill to pay
    assert pay_jobs() == []
    # when the ledger posts it (and the posting is reported twice)
    for _ in range(2):
        expense_mark_posted(actor=LEDGER, expense_id=expense.pk, revision=1, document_name="BILL/1")
    # and payroll's status file is replayed
    expense_mark_reimbursed(actor=PAYROLL, expense_id=expense.pk, payment_ref="PAY-7")
    # then exactly one payment job exists, for that expense, payment and Odoo system
    [job] = pay_jobs()
    assert job.target_id == system.pk
    assert job.idempotency_key == f"{PAY}:{expense.pk}:PAY-7"
    assert job.payload == {"expense_id": expense.pk, "reference": expense.posting_reference, "payment_ref": "PAY-7"}


def test_posted_then_paid_queues_exactly_one_job(plain_expense):
    expense, system = plain_expense
    # given the expense is posted in the ledger
    expense_mark_posted(actor=LEDGER, expense_id=expense.pk, revision=1, document_name="BILL/2")
    assert pay_jobs() == []
    # when payroll reports it paid, twice
    for _ in range(2):
        expense_mark_reimbursed(actor=PAYROLL, expense_id=expense.pk, payment_ref="PAY-8")
    # then exactly one payment job exists, in batch mode (a window like postings)
    [job] = pay_jobs()
    assert job.target_id == system.pk and job.payload["payment_ref"] == "PAY-8"
    assert SyncPolicy.objects.get(operation=PAY).mode == SyncMode.BATCH


def post_batch(entity, mapped, system, count):  # noqa: F811
    """``count`` expenses of one employee, posted in one batch (Odoo 19: one shared entry)."""
    employee = EmployeeFactory(legal_entity=entity, email="payee@corp.example")
    expenses = [ready_expense(entity=entity, employee=employee, category=mapped["category"], tax=mapped["tax"],
                              receipt=False) for _ in range(count)]
    jobs = [posting_job(e, system) for e in expenses]
    assert {o.kind for o in post_expense_handler(jobs).values()} == {"ok"}
    return expenses


def none_result(rpc, *call):
    """A button that returns None: over XML-RPC Odoo answers a Fault after committing the work."""
    try:
        rpc(*call)
    except xmlrpc.client.Fault as fault:
        assert "cannot marshal None" in fault.faultString, fault.faultString


def odoo_moves(rpc, system, expenses):
    ids = sorted({m for e in expenses for m in PostingLedger.objects.get(
        system=system, reference=e.posting_reference).move_ids})
    return rpc("account.move", "read", ids, fields=["payment_state", "amount_residual"])


def reimbursed_not_paid(system, worker):
    run = reconciliation_run(actor=worker, system=system)
    return run, {i.reference for i in run.items.filter(kind=ItemKind.REIMBURSED_NOT_PAID)}


def test_handler_pays_the_bills_in_one_wizard_and_reconciliation_is_clean(
        odoo_system, entity, mapped, mode, rpc, sandbox, worker):  # noqa: F811
    # given three posted expenses, two of them reimbursed by payroll
    expenses = post_batch(entity, mapped, odoo_system, 3)
    paid = expenses[:2]
    for n, expense in enumerate(paid):
        expense_mark_reimbursed(actor=PAYROLL, expense_id=expense.pk, payment_ref=f"PAY-{n}")
    _, flagged = reimbursed_not_paid(odoo_system, worker)
    assert flagged == {e.posting_reference for e in paid}
    jobs = pay_jobs()
    assert len(jobs) == 2
    before = sandbox.stats()["by_method"]
    # when the worker runs the payment handler on the batch
    outcomes = register_payment_handler(jobs)
    if sandbox.profile == "19" and mode == "expense":
        # then (Odoo 19 shares one entry per employee and posting batch) nothing is paid
        # while the third expense on that entry is not reimbursed: Odoo pays entries whole
        assert {o.kind for o in outcomes.values()} == {"retry"}, outcomes
        assert "not reimbursed yet" in next(iter(outcomes.values())).error
        assert {m["payment_state"] for m in odoo_moves(rpc, odoo_system, expenses)} == {"not_paid"}
        # when the third is reimbursed too and every job runs
        expense_mark_reimbursed(actor=PAYROLL, expense_id=expenses[2].pk, payment_ref="PAY-2")
        paid, jobs = expenses, pay_jobs()
        outcomes = register_payment_handler(jobs)
    # then every job succeeded and Odoo holds the bills paid
    assert {o.kind for o in outcomes.values()} == {"ok"}, outcomes
    assert all(o.summary["registered"] for o in outcomes.values())
    assert {m["payment_state"] for m in odoo_moves(rpc, odoo_system, paid)} == {"paid"}
    assert {m["amount_residual"] for m in odoo_moves(rpc, odoo_system, paid)} == {0.0}
    # through one register-payment wizard for the whole batch
    after = sandbox.stats()["by_method"]
    wizard = "account.payment.register.action_create_payments"
    assert after.get(wizard, 0) - before.get(wizard, 0) == 1
    # and an expense nobody reimbursed stays unpaid in Odoo (17: its own bill)
    if not (sandbox.profile == "19" and mode == "expense"):
        assert {m["payment_state"] for m in odoo_moves(rpc, odoo_system, expenses[2:])} == {"not_paid"}
    # and the ledger and reconciliation see them paid: nothing reimbursed-but-unpaid is left
    assert {PostingLedger.objects.get(reference=e.posting_reference).payment_state for e in paid} == {"paid"}
    # (the payment entries, which carry a bill's reference as memo, are no second posting)
    run, flagged = reimbursed_not_paid(odoo_system, worker)
    assert flagged == set()
    assert run.counts == {}, run.counts


def test_replay_after_a_dropped_answer_does_not_pay_twice(
        odoo_system, entity, mapped, mode, rpc, sandbox, worker):  # noqa: F811
    # given a posted, reimbursed expense
    [expense] = post_batch(entity, mapped, odoo_system, 1)
    expense_mark_reimbursed(actor=PAYROLL, expense_id=expense.pk, payment_ref="PAY-1")
    [job] = pay_jobs()
    payments = rpc("account.payment", "search_count", [])
    # and Odoo commits the payment, then drops its answer
    sandbox.control(drop_after_commit_every=1, fault_methods=["account.payment.register.action_create_payments"])
    # when the worker runs the job: the outcome is unknown, so it asks for a retry
    first = register_payment_handler([job])[job.id]
    assert first.kind == "retry" and first.error_class == "UnknownOutcomeError", first
    assert sandbox.stats()["faults_injected"]["drop_after_commit"] == 1
    # when the job runs again
    sandbox.reset_faults()
    again = register_payment_handler([job])[job.id]
    # then it finds the bill paid and registers nothing more
    assert again.kind == "ok" and again.summary["registered"] is False, again
    assert "account.payment.register.action_create_payments" not in sandbox.stats()["by_method"]
    assert rpc("account.payment", "search_count", []) == payments + 1
    assert {m["payment_state"] for m in odoo_moves(rpc, odoo_system, [expense])} == {"paid"}
    run, _ = reimbursed_not_paid(odoo_system, worker)
    assert run.counts == {}, run.counts


def test_a_cancelled_bill_makes_the_payment_permanent(
        odoo_system, entity, mapped, mode, rpc, worker):  # noqa: F811
    # given a posted expense whose bill someone reset to draft and cancelled in Odoo
    [expense] = post_batch(entity, mapped, odoo_system, 1)
    [move_id] = PostingLedger.objects.get(reference=expense.posting_reference).move_ids
    for button in ("button_draft", "button_cancel"):
        none_result(rpc, "account.move", button, [move_id])
    # when payroll reimburses it and the payment job runs
    expense_mark_reimbursed(actor=PAYROLL, expense_id=expense.pk, payment_ref="PAY-X")
    [job] = pay_jobs()
    outcome = register_payment_handler([job])[job.id]
    # then the job is permanent (the sync engine sends it dead, with an exception for a person)
    assert outcome.kind == "permanent" and "cancelled" in outcome.error, outcome
    # and reconciliation keeps reporting the expense: a real difference for a person
    run = reconciliation_run(actor=worker, system=odoo_system)
    assert run.items.filter(reference=expense.posting_reference).exists(), run.counts
