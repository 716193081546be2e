"""500 postings while the sandbox commits and then drops every tenth answer."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from controlplane.expenses.states import PostingState
from controlplane.odoo.handlers import post_expense_handler
from controlplane.odoo.models import LedgerState, PostingLedger
from tests.factories import EmployeeFactory
from tests.odoo.factories import posting_job, ready_expense
from tests.odoo.test_posting import mapped, mode  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

COUNT = int(os.environ.get("ODOO_FAULT_TEST_COUNT", "500"))
BATCH = 50
MAX_ROUNDS = 40


def gross(i: int) -> str:
    """Tax-included amounts whose 15% split is exact: a bill with a price-excluded tax can only
    total amounts of the form net × 1.15 (the connector refuses the others as tax_rounding)."""
    return str((Decimal(10 + i % 97) * Decimal("1.15")).quantize(Decimal("0.01")))


def run_like_a_worker(jobs):
    """Call the handler in batches of 50, again and again for the jobs it asked to retry."""
    pending, rounds, outcomes = list(jobs), 0, {}
    while pending and rounds < MAX_ROUNDS:
        rounds += 1
        for start in range(0, len(pending), BATCH):
            outcomes.update(post_expense_handler(pending[start:start + BATCH]))
        pending = [j for j in pending if outcomes[j.id].kind == "retry"]
    return outcomes, pending, rounds


def test_dropped_answers_never_duplicate_a_posting(odoo_system, entity, mapped, mode, sandbox, rpc):  # noqa: F811
    # given 500 finance-reviewed expenses of five employees
    employees = [EmployeeFactory(legal_entity=entity, email=f"fault{i}@corp.example") for i in range(5)]
    expenses = [ready_expense(entity=entity, employee=employees[i % 5], category=mapped["category"],
                              tax=mapped["tax"], amounts=(gross(i),), receipt=False)
                for i in range(COUNT)]
    jobs = [posting_job(e, odoo_system) for e in expenses]
    # and Odoo commits, then drops the answer, of every tenth call
    sandbox.control(drop_after_commit_every=10)
    # when a worker keeps running the handler until no job asks for a retry
    outcomes, pending, rounds = run_like_a_worker(jobs)
    sandbox.reset_faults()
    # then the faults did happen, every job succeeded and every expense is posted
    assert rounds > 1
    assert not pending
    assert {o.kind for o in outcomes.values()} == {"ok"}, {o.error for o in outcomes.values() if o.kind != "ok"}
    assert PostingLedger.objects.filter(state=LedgerState.POSTED).count() == COUNT
    assert all(e.posting_state == PostingState.POSTED for e in type(expenses[0]).objects.filter(
        pk__in=[e.pk for e in expenses]))
    # and Odoo holds exactly one document per reference, with our amount
    refs = {e.posting_reference: e.total_amount for e in expenses}
    if mode == "expense":
        rows = rpc("hr.expense", "search_read", [("name", "in", list(refs))], fields=["name", "total_amount_currency"])
        found = [(r["name"], r["total_amount_currency"]) for r in rows]
    else:
        rows = rpc("account.move", "search_read", [("ref", "in", list(refs))], fields=["ref", "amount_total"])
        found = [(r["ref"], r["amount_total"]) for r in rows]
    assert len(found) == COUNT
    assert {ref for ref, _ in found} == set(refs)
    assert all(Decimal(str(amount)).quantize(Decimal("0.01")) == refs[ref] for ref, amount in found)
