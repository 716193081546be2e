"""Given the sandbox (17 and 19), when a client creates journal entries from values, then they
are built as Odoo builds them: lines, taxes, payable, totals, currency, naming; plus foreign
keys, ``active`` and a second company."""

from __future__ import annotations

import datetime as dt
import xmlrpc.client

import pytest

from .conftest import Client

EUR, USD, PURCHASE_TAX, MEALS, ANALYTIC, BILL = 125, 1, 2, 1, 1, 2
LINE_FIELDS = ["account_id", "name", "debit", "credit", "amount_currency", "balance", "currency_id",
               "partner_id", "analytic_distribution", "tax_ids", "tax_line_id", "display_type",
               "move_id", "product_id", "quantity", "price_unit"]


@pytest.fixture(scope="module", params=["17", "19"])
def odoo(request, sandbox17, sandbox19):
    return Client(sandbox17 if request.param == "17" else sandbox19)


def _bill(odoo, **extra):
    vals = {"move_type": "in_invoice", "partner_id": 3, "ref": "BILL-REF-1",
            "invoice_date": "2026-12-03",
            "invoice_line_ids": [(0, 0, {"name": "Dinner", "product_id": MEALS, "quantity": 1.0,
                                         "price_unit": 100.0, "tax_ids": [(6, 0, [PURCHASE_TAX])],
                                         "analytic_distribution": {str(ANALYTIC): 100.0}})]}
    vals.update(extra)
    return odoo("account.move", "create", [vals])[0]


def _lines(odoo, move_id):
    ids = odoo("account.move", "read", [move_id], ["line_ids"])[0]["line_ids"]
    return {ln["display_type"]: ln for ln in odoo("account.move.line", "read", ids, LINE_FIELDS)}


def test_vendor_bill_from_invoice_line_ids(odoo):
    mid = _bill(odoo)
    [move] = odoo("account.move", "read", [mid], [
        "state", "name", "journal_id", "move_type", "payment_state", "ref", "partner_id",
        "amount_untaxed", "amount_tax", "amount_total", "amount_total_signed", "amount_residual",
        "currency_id", "invoice_line_ids", "line_ids", "date"])
    assert move["state"] == "draft" and move["name"] == "/"
    assert move["journal_id"] == [BILL, "Vendor Bills" if odoo.sandbox.profile == "17" else "Purchases"]
    assert (move["payment_state"], move["ref"], move["partner_id"][0]) == ("not_paid", "BILL-REF-1", 3)
    # 15% purchase tax is not price-included in the seed: 100 + 15
    assert (move["amount_untaxed"], move["amount_tax"], move["amount_total"]) == (100.0, 15.0, 115.0)
    assert move["amount_total_signed"] == -115.0 and move["amount_residual"] == 115.0
    assert move["date"] == "2026-12-03"  # the accounting date follows the bill date
    assert len(move["invoice_line_ids"]) == 1 and len(move["line_ids"]) == 3
    lines = _lines(odoo, mid)
    product, tax, payable = lines["product"], lines["tax"], lines["payment_term"]
    assert product["account_id"][0] == 30 and product["name"] == "Dinner"  # expense account
    assert (product["debit"], product["credit"], product["tax_ids"]) == (100.0, 0.0, [PURCHASE_TAX])
    assert product["analytic_distribution"] == {str(ANALYTIC): 100.0}
    assert product["move_id"][0] == mid and product["partner_id"][0] == 3
    assert (tax["tax_line_id"][0], tax["debit"], tax["account_id"][0]) == (PURCHASE_TAX, 15.0, 8)
    assert (payable["account_id"][0], payable["credit"], payable["amount_currency"]) == (14, 115.0, -115.0)
    # posting names it in the journal's sequence
    odoo("account.move", "action_post", [mid])
    [posted] = odoo("account.move", "read", [mid], ["state", "name"])
    assert posted["state"] == "posted"
    assert posted["name"].startswith(f"BILL/{dt.date.today():%Y}/") or posted["name"].startswith("BILL/2026/12/")
    assert posted["name"].split("/")[-1].isdigit() and len(posted["name"].split("/")[-1]) == 4


def test_price_included_tax_and_foreign_currency(odoo):
    tax = odoo("account.tax", "create", [{"name": "10% incl", "amount": 10.0, "amount_type": "percent",
                                          "type_tax_use": "purchase", "price_include": True}])[0]
    mid = _bill(odoo, currency_id=EUR, invoice_line_ids=[(0, 0, {
        "name": "Hotel", "price_unit": 55.0, "quantity": 1.0, "tax_ids": [(6, 0, [tax])]})])
    [move] = odoo("account.move", "read", [mid], ["amount_untaxed", "amount_tax", "amount_total",
                                                  "amount_total_signed", "currency_id"])
    assert (move["amount_untaxed"], move["amount_tax"], move["amount_total"]) == (50.0, 5.0, 55.0)
    assert move["currency_id"][0] == EUR
    assert move["amount_total_signed"] == -59.78  # 55 EUR at 0.92
    lines = _lines(odoo, mid)
    assert (lines["product"]["amount_currency"], lines["product"]["balance"]) == (50.0, 54.35)
    assert lines["product"]["account_id"][0] == 30  # no product: the journal's default account
    assert lines["payment_term"]["balance"] == -59.78


def test_in_receipt_and_balanced_entry_from_line_ids(odoo):
    rid = _bill(odoo, move_type="in_receipt")
    [receipt] = odoo("account.move", "read", [rid], ["journal_id", "amount_total", "move_type"])
    assert receipt["journal_id"][0] == BILL and receipt["amount_total"] == 115.0
    eid = odoo("account.move", "create", [{"move_type": "entry", "ref": "misc", "line_ids": [
        (0, 0, {"account_id": 30, "name": "cost", "debit": 40.0}),
        (0, 0, {"account_id": 14, "name": "owed", "credit": 40.0})]}])[0]
    [entry] = odoo("account.move", "read", [eid], ["journal_id", "amount_total", "state"])
    assert entry["journal_id"][0] == 3 and entry["amount_total"] == 40.0  # MISC
    fault = odoo.fault("account.move", "create", [{"move_type": "entry", "line_ids": [
        (0, 0, {"account_id": 30, "debit": 40.0}), (0, 0, {"account_id": 14, "credit": 30.0})]}])
    assert "not balanced" in fault.faultString


def test_posting_a_bill_needs_its_date(odoo):
    mid = _bill(odoo, invoice_date=False)
    fault = odoo.fault("account.move", "action_post", [mid])
    assert fault.faultCode == 2 and "Bill/Refund date is required" in fault.faultString


def test_many2one_to_a_missing_record_is_a_foreign_key_violation(odoo):
    fault = odoo.fault("hr.department", "create", [{"name": "Ghost", "parent_id": 99999999}])
    assert fault.faultCode == 2
    if odoo.sandbox.profile == "17":
        assert "Model: Department (hr.department)\nConstraint: hr_department_parent_id_fkey" in fault.faultString
    else:
        assert "The troublemaker is: 'Department' (hr.department)" in fault.faultString
    dept = odoo("hr.department", "create", [{"name": "Real"}])[0]
    fault = odoo.fault("hr.department", "write", [dept], {"manager_id": 99999999})
    assert fault.faultCode == 2 and "manager_id" in fault.faultString
    fault = odoo.fault("account.move", "create", [{"move_type": "in_invoice", "partner_id": 99999999}])
    assert "partner_id" in fault.faultString
    assert odoo("hr.department", "search_count", [("name", "=", "Ghost")]) == 0


def test_active_defaults_to_true_and_archived_records_are_hidden(odoo):
    dept = odoo("hr.department", "create", [{"name": "Archivable"}])[0]
    assert odoo("hr.department", "read", [dept], ["active"])[0]["active"] is True
    odoo("hr.department", "write", [dept], {"active": False})
    assert dept not in odoo("hr.department", "search", [("name", "=", "Archivable")])
    assert dept in odoo("hr.department", "search", [("name", "=", "Archivable"), ("active", "=", False)])
    assert dept in odoo("hr.department", "search", [("name", "=", "Archivable")],
                        context={"active_test": False})
    assert odoo("hr.department", "read", [dept], ["name"])  # read by id still works


def test_second_company_posts_in_its_own_currency(odoo):
    [company] = odoo("res.company", "search_read", [("id", "=", 1)], ["name", "currency_id", "partner_id"])
    assert company["currency_id"] == [USD, "USD"] and company["partner_id"]
    c2 = odoo("res.company", "create", [{"name": "Sandbox Europe", "currency_id": EUR}])[0]
    [row] = odoo("res.company", "read", [c2], ["currency_id", "partner_id"])
    assert row["currency_id"][0] == EUR and row["partner_id"]
    company_key = "company_ids" if odoo.sandbox.profile == "19" else "company_id"
    company_val = [(6, 0, [c2])] if odoo.sandbox.profile == "19" else c2
    expense = odoo("account.account", "create", [{"code": "600000", "name": "Expenses EU",
                                                  "account_type": "expense", company_key: company_val}])[0]
    payable = odoo("account.account", "create", [{"code": "211000", "name": "Payable EU",
                                                  "account_type": "liability_payable",
                                                  "reconcile": True, company_key: company_val}])[0]
    # no purchase journal yet: Odoo refuses to guess one from another company
    fault = odoo.fault("account.move", "create", [{"move_type": "in_invoice", "company_id": c2,
                                                   "partner_id": 3}])
    assert "No journal could be found in company Sandbox Europe" in fault.faultString
    journal = odoo("account.journal", "create", [{"name": "Bills EU", "code": "BILL", "type": "purchase",
                                                  "company_id": c2, "default_account_id": expense}])[0]
    mid = _bill(odoo, company_id=c2, currency_id=EUR, invoice_line_ids=[
        (0, 0, {"name": "Taxi", "price_unit": 50.0, "quantity": 1.0})])
    [move] = odoo("account.move", "read", [mid], ["journal_id", "company_id", "amount_total",
                                                  "amount_total_signed"])
    assert move["journal_id"][0] == journal and move["company_id"][0] == c2
    assert (move["amount_total"], move["amount_total_signed"]) == (50.0, -50.0)  # EUR company
    lines = _lines(odoo, mid)
    assert lines["product"]["account_id"][0] == expense and lines["payment_term"]["account_id"][0] == payable
    odoo("account.move", "action_post", [mid])
    name = odoo("account.move", "read", [mid], ["name"])[0]["name"]
    assert name.startswith("BILL/") and name.endswith("/0001")  # its own sequence


def test_xmlrpc_fault_type(odoo):
    with pytest.raises(xmlrpc.client.Fault):
        odoo("account.move", "create", [{"move_type": "in_invoice", "journal_id": 99999999}])
