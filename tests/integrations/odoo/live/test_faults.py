"""Given an Odoo that commits and then drops the answer on every 10th call, when a worker
keeps retrying, then every expense lands exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.errors import RetryableError, UnknownOutcomeError
from integrations.odoo.binder import InMemoryBinder
from integrations.odoo.employees import export_employees
from integrations.odoo.posting import post_expenses
from integrations.odoo.types import EmployeeExport, PostingFailure

from .conftest import PURCHASE_TAX_15_INCL, client_for, make_posting, unique

N = 500
BATCH = 100


@pytest.mark.parametrize("mode", ["expense", "journal_entry"])
def test_500_expenses_land_once_despite_dropped_answers(sandbox, mode, supports):
    supports(mode)
    client = client_for(sandbox)
    tag = unique("drop")
    people = export_employees(client, [EmployeeExport(f"{tag}-{i}", f"Worker {i}", f"{tag}-{i}@example.com")
                                       for i in range(5)], binder=InMemoryBinder())
    # expense taxes are price-included: each bill's total is exactly the expense's amount
    postings = [make_posting(f"{tag}-{i:03d}", people[i % 5].odoo_id, f"{10 + i % 37}.{i % 100:02d}",
                             tax_id=PURCHASE_TAX_15_INCL, receipts=()) for i in range(N)]
    expected = {p.ref: p.lines[0].amount for p in postings}
    sandbox.control(drop_after_commit_every=10)
    try:
        pending = dict.fromkeys(expected)
        unknown = 0
        for _attempt in range(300):  # a worker retrying each batch after back-off
            if not pending:
                break
            batch = [p for p in postings if p.ref in pending][:BATCH]
            try:
                outcomes = post_expenses(client, batch, mode=mode)
            except UnknownOutcomeError:
                unknown += 1
                continue
            except RetryableError:
                continue
            for outcome in outcomes:
                assert not isinstance(outcome, PostingFailure), outcome
                if outcome.posted:
                    pending.pop(outcome.ref, None)
        stats = sandbox.stats()
    finally:
        sandbox.control(drop_after_commit_every=0)
    assert not pending
    assert unknown > 0 and stats["faults_injected"]["drop_after_commit"] > 0
    # then Odoo holds exactly one document per reference, with our amount
    refs = list(expected)
    if mode == "journal_entry":
        rows = client.search_read("account.move", [("ref", "in", refs)], ["ref", "amount_total"])
        found = {r["ref"]: r["amount_total"] for r in rows}
        assert len(rows) == N
        assert all(Decimal(str(found[ref])) == amount for ref, amount in expected.items())
    else:
        rows = client.search_read("hr.expense", [("name", "like", tag)], ["name", "total_amount_currency"])
        assert len(rows) == N
        assert {r["name"]: Decimal(str(r["total_amount_currency"])) for r in rows} == expected
    # and every document got its external id, even those whose creation answer was lost
    xmlids = client.search_read("ir.model.data", [("module", "=", "controlplane"), ("name", "=like", f"{tag}-%")],
                                ["name", "res_id"])
    assert sorted(x["name"] for x in xmlids) == sorted(refs)
