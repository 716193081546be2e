"""Given the Odoo sandbox (17 and 19), when we post batches, then Odoo holds exactly what we sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from integrations.errors import PermanentError
from integrations.odoo.binder import InMemoryBinder
from integrations.odoo.posting import post_expenses
from integrations.odoo.readback import read_back
from integrations.odoo.types import PostingFailure, PostingLine, PostingResult

from .conftest import (
    ANALYTIC,
    EUR,
    GIFTS,
    PURCHASE_TAX_15,
    PURCHASE_TAX_15_INCL,
    TRAVEL,
    client_for,
    make_posting,
    unique,
)

MODES = ["expense", "journal_entry"]


def _lines_of(client, result: PostingResult) -> list[dict]:
    """The bill lines of one posting (19 books an employee's expenses in one move)."""
    lines = client.search_read("account.move.line", [("move_id", "in", list(result.move_ids))],
                               ["account_id", "tax_ids", "tax_line_id", "analytic_distribution",
                                "debit", "credit", "display_type", "expense_id"])
    if result.odoo_model == "hr.expense":
        mine = [ln for ln in lines if ln["display_type"] == "product"
                and (ln["expense_id"] or [None])[0] in result.odoo_ids]
        return mine + [ln for ln in lines if ln["display_type"] == "tax"]
    return lines


def _count(client, mode: str, refs: list[str]) -> int:
    if mode == "journal_entry":
        return client.search_count("account.move", [("ref", "in", refs), ("move_type", "=", "in_invoice")])
    return client.search_count("hr.expense", [("name", "in", refs)])


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc", "json2"])
@pytest.mark.parametrize("mode", MODES)
def test_a_batch_is_posted_with_taxes_analytics_currency_and_receipts(sandbox, mode, protocol, employee_id,
                                                                     supports):
    supports(mode)
    # given a batch in USD and EUR, with a 15% tax and an analytic split
    if protocol == "json2" and sandbox.profile == "17":
        pytest.skip("JSON-2 exists from Odoo 19 on")
    client = client_for(sandbox, protocol)
    batch = [make_posting(unique("CP"), employee_id, amount) for amount in ("115.00", "23.00", "46.00")]
    batch.append(make_posting(unique("CP"), employee_id, "50.00", currency_id=EUR, product_id=TRAVEL))
    # when it is posted
    outcomes = post_expenses(client, batch, mode=mode)
    # then each expense is posted, with its own amount and currency
    assert all(isinstance(o, PostingResult) for o in outcomes), outcomes
    assert [o.ref for o in outcomes] == [p.ref for p in batch]
    assert all(o.posted and o.document_name for o in outcomes)
    assert [o.amount_total for o in outcomes] == [Decimal("115.00"), Decimal("23.00"), Decimal("46.00"), Decimal("50.00")]
    assert [o.currency_code for o in outcomes] == ["USD", "USD", "USD", "EUR"]
    # and the bills carry the tax split and the analytic distribution
    lines = _lines_of(client, outcomes[0])
    product_lines = [ln for ln in lines if ln["display_type"] == "product"]
    tax_lines = [ln for ln in lines if ln["display_type"] == "tax"]
    assert product_lines and all(ln["analytic_distribution"] == {str(ANALYTIC): 100.0} for ln in product_lines)
    assert sum(ln["debit"] for ln in product_lines) == pytest.approx(100.0)
    assert tax_lines and all(ln["tax_line_id"][0] == PURCHASE_TAX_15_INCL for ln in tax_lines)
    if len(set(batch_moves := [m for o in outcomes for m in o.move_ids])) == len(batch_moves):
        assert sum(ln["debit"] for ln in tax_lines) == pytest.approx(15.0)  # one bill per expense
    assert all(PURCHASE_TAX_15_INCL in ln["tax_ids"] for ln in product_lines)
    # and the receipt reached the bill
    attachments = client.search_read("ir.attachment", [("res_model", "=", "account.move"),
                                                       ("res_id", "in", list(outcomes[0].move_ids))], ["name"])
    assert f"{batch[0].ref}.pdf" in {a["name"] for a in attachments}
    # and reading back by reference gives the same answer
    assert read_back(client, [p.ref for p in batch], mode=mode) == {o.ref: o for o in outcomes}


@pytest.mark.parametrize("mode", MODES)
def test_posting_the_same_batch_twice_creates_nothing_new(sandbox, client, mode, employee_id, supports):
    supports(mode)
    batch = [make_posting(unique("CP"), employee_id, str(10 + i)) for i in range(5)]
    first = post_expenses(client, batch, mode=mode)
    second = post_expenses(client, batch, mode=mode, use_external_ids=False)  # search by ref alone
    third = post_expenses(client, batch, mode=mode, binder=InMemoryBinder())
    assert first == second == third
    assert _count(client, mode, [p.ref for p in batch]) == 5


def test_the_none_marshal_fault_is_taken_as_success(sandbox, client, calls, employee_id):
    # given XML-RPC, where submit/approve/post answer "cannot marshal None" after committing
    outcomes = post_expenses(client, [make_posting(unique("CP"), employee_id)], mode="expense")
    # then the posting went through and those calls were recorded as successes
    assert outcomes[0].posted
    assert any(c.outcome == "none_result" for c in calls)


def test_the_duplicate_approval_wizard_is_confirmed(sandbox, client, employee_id):
    # given an approved expense, and a second one alike (same employee, product, date, amount)
    first = post_expenses(client, [make_posting(unique("CP"), employee_id, "42.00", product_id=GIFTS)],
                          mode="expense")
    assert first[0].posted
    # when the look-alike is posted, Odoo answers approve with the duplicate wizard
    second = post_expenses(client, [make_posting(unique("CP"), employee_id, "42.00", product_id=GIFTS)],
                           mode="expense")
    # then the connector confirms it and the second expense is posted too
    assert isinstance(second[0], PostingResult) and second[0].posted


@pytest.mark.parametrize("mode", MODES)
def test_a_permanent_fault_is_isolated_to_its_item(sandbox, client, mode, employee_id, supports):
    supports(mode)
    # given a batch where Odoo refuses one expense's values (a many2one it cannot store)
    good = [make_posting(unique("CP"), employee_id, str(30 + i)) for i in range(4)]
    bad = make_posting(unique("CP"), employee_id, "31",
                       lines=(PostingLine(amount=Decimal("31"), product_id="abc"),))
    invalid = make_posting("not a valid ref!", employee_id)
    outcomes = post_expenses(client, [*good[:2], bad, invalid, *good[2:]], mode=mode)
    # then only that one fails, with Odoo's message, and the others are posted
    by_ref = {o.ref: o for o in outcomes}
    assert isinstance(by_ref[bad.ref], PostingFailure)
    assert isinstance(by_ref[bad.ref].error, PermanentError) and by_ref[bad.ref].error.message
    assert by_ref[invalid.ref].error.code == "invalid"
    assert all(by_ref[p.ref].posted for p in good)
    assert _count(client, mode, [bad.ref]) == 0


def test_an_employee_without_work_email_fails_alone_in_expense_mode(sandbox, client, employee_id):
    if sandbox.profile != "17":
        pytest.skip("recorded on 17.0: posting a report needs the employee's work contact")
    # given an employee Odoo cannot post for (no work email, so no work contact)
    [lonely] = client.create("hr.employee", [{"name": unique("No Email")}])
    good = make_posting(unique("CP"), employee_id, "12")
    bad = make_posting(unique("CP"), lonely, "13")
    outcomes = post_expenses(client, [good, bad], mode="expense")
    assert outcomes[0].posted
    assert isinstance(outcomes[1], PostingFailure) and not outcomes[1].retryable


@pytest.mark.parametrize("mode", MODES)
def test_multi_line_and_company_paid_expenses(sandbox, client, mode, employee_id, supports):
    supports(mode)
    lines = (PostingLine(amount=Decimal("20.00"), description="taxi"),
             PostingLine(amount=Decimal("35.00"), description="train", product_id=TRAVEL,
                         analytic_distribution={str(ANALYTIC): 50.0}))
    multi = make_posting(unique("CP"), employee_id, lines=lines)
    company_paid = make_posting(unique("CP"), employee_id, "60.00", payment_mode="company_account")
    outcomes = post_expenses(client, [multi, company_paid], mode=mode)
    assert all(o.posted for o in outcomes), outcomes
    assert outcomes[0].amount_total == Decimal("55.00")
    if mode == "expense":
        assert len(outcomes[0].odoo_ids) == 2


def test_bills_with_a_non_included_tax_never_post_a_drifted_total(sandbox, calls, employee_id, supports):
    supports("journal_entry")
    client = client_for(sandbox, records=calls)
    # given a 15% tax that is not price-included: 10.00 is sent as 8.70, and Odoo adds 1.31
    drifts = make_posting(unique("CP"), employee_id, "10.00", tax_id=PURCHASE_TAX_15)
    exact = make_posting(unique("CP"), employee_id, "115.00", tax_id=PURCHASE_TAX_15)
    included = make_posting(unique("CP"), employee_id, "10.00", tax_id=PURCHASE_TAX_15_INCL)
    # when the batch is posted as journal entries
    outcomes = post_expenses(client, [drifts, exact, included], mode="journal_entry")
    # then the drifting bill fails alone and is left in draft, never posted with 10.01
    failure = outcomes[0]
    assert isinstance(failure, PostingFailure) and not failure.retryable
    assert failure.error.code == "tax_rounding"
    assert failure.error.message == ("tax rounding: posted total would be 10.01 instead of 10.00; "
                                     "use a price-included tax")
    [draft] = client.search_read("account.move", [("ref", "=", drifts.ref)], ["state", "amount_total"])
    assert (draft["state"], draft["amount_total"]) == ("draft", 10.01)
    # and the others are posted with the expense's exact total
    assert [(o.posted, o.amount_total) for o in outcomes[1:]] == [(True, Decimal("115.00")),
                                                                  (True, Decimal("10.00"))]
    [bill] = client.read("account.move", list(outcomes[2].move_ids), ["amount_untaxed", "amount_tax"])
    assert (bill["amount_untaxed"], bill["amount_tax"]) == (8.70, 1.30)
    [line] = client.search_read("account.move.line", [("move_id", "in", list(outcomes[2].move_ids)),
                                                      ("display_type", "=", "product")], ["price_unit"])
    assert line["price_unit"] == 10.0  # the gross: Odoo takes the included tax out of it
    # and the taxes were read once for the batch, then from the client's cache
    tax_reads = [c for c in calls if c.model == "account.tax"]
    assert [c.method for c in tax_reads] == ["search_read"]
    # and retrying creates nothing new and still refuses to post the drifting bill
    again = post_expenses(client, [drifts], mode="journal_entry")
    assert isinstance(again[0], PostingFailure) and again[0].error.code == "tax_rounding"
    assert client.search_count("account.move", [("ref", "=", drifts.ref)]) == 1
    assert len([c for c in calls if c.model == "account.tax"]) == 1
