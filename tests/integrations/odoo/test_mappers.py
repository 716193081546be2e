"""Mappers: records as a real Odoo 17/19 returns them (shared/odoo recordings) ↔ dataclasses."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

from integrations.odoo import mappers
from integrations.odoo.types import ExpensePosting, OdooTax, PostingLine, Receipt
from integrations.odoo.versions import OdooVersion, model_fields


def posting(**overrides):
    values = dict(
        ref="CP-000123-R2", employee_id=5, product_id=1, currency_id=125,
        date=dt.date(2026, 12, 3), description="Taxi Paris",
        lines=(PostingLine(amount=Decimal("115.00"), tax_ids=(2,), analytic_distribution={"4": 100.0}),),
        receipts=(Receipt("taxi.pdf", "application/pdf", base64.b64encode(b"%PDF-1.4").decode()),),
    )
    values.update(overrides)
    return ExpensePosting(**values)


def test_employee_from_a_17_record():
    record = {"id": 2, "name": "Jane Expense", "work_email": "jane@example.com", "user_id": False,
              "department_id": [2, "Field Sales"], "parent_id": False, "company_id": [1, "My Company"],
              "work_contact_id": [10, "Jane Expense"], "active": True, "write_date": "2026-12-03 16:05:53"}
    employee = mappers.employee_from_odoo(record)
    assert (employee.odoo_id, employee.work_email, employee.department_id) == (2, "jane@example.com", 2)
    assert (employee.user_id, employee.manager_id, employee.partner_id) == (None, None, 10)
    assert employee.write_date == dt.datetime(2026, 12, 3, 16, 5, 53)


def test_expense_product_keeps_taxes_and_account():
    record = {"id": 1, "name": "Meals", "default_code": "FOOD", "standard_price": 0.0,
              "can_be_expensed": True, "supplier_taxes_id": [2], "property_account_expense_id": False}
    product = mappers.product_from_odoo(record)
    assert (product.default_code, product.supplier_tax_ids, product.expense_account_id) == ("FOOD", (2,), None)


def test_account_reads_company_and_activity_on_17_and_19():
    v17 = mappers.account_from_odoo({"id": 30, "code": "600000", "name": "Expenses", "account_type": "expense",
                                     "company_id": [1, "My Company"], "deprecated": False})
    v19 = mappers.account_from_odoo({"id": 32, "code": "600000", "name": "Expenses", "account_type": "expense",
                                     "company_ids": [1, 3], "active": False})
    assert (v17.company_ids, v17.active) == ((1,), True)
    assert (v19.company_ids, v19.active) == ((1, 3), False)


def test_currency_rate_and_company():
    rate = mappers.currency_rate_from_odoo({"id": 1, "name": "2026-12-01", "currency_id": [125, "EUR"],
                                            "company_rate": 0.92, "rate": 0.92, "company_id": [1, "My Company"]})
    assert (rate.currency_code, rate.date, rate.rate) == ("EUR", dt.date(2026, 12, 1), Decimal("0.92"))
    company = mappers.company_from_odoo({"id": 1, "name": "My Company", "currency_id": [1, "USD"],
                                         "country_id": False})
    assert (company.currency_code, company.country_code) == ("USD", "")


def test_tax_and_untaxed_amount():
    tax = mappers.tax_from_odoo({"id": 2, "name": "15%", "amount": 15.0, "amount_type": "percent",
                                 "price_include": False, "type_tax_use": "purchase"})
    assert mappers.untaxed_amount(Decimal("115"), [tax]) == Decimal("100.00")
    assert mappers.untaxed_amount(Decimal("50"), []) == Decimal("50.00")


def test_expense_vals_match_the_recorded_create_call():
    vals = mappers.expense_vals(posting())
    assert vals == [{
        "name": "CP-000123-R2", "employee_id": 5, "product_id": 1, "total_amount_currency": 115.0,
        "currency_id": 125, "date": "2026-12-03", "payment_mode": "own_account",
        "tax_ids": [(6, 0, [2])], "description": "Taxi Paris", "analytic_distribution": {"4": 100.0},
    }]


def test_multi_line_expenses_get_numbered_names_that_map_back_to_the_ref():
    two = posting(lines=(PostingLine(amount=Decimal("10")), PostingLine(amount=Decimal("20"), product_id=3)))
    names = mappers.expense_names(two)
    assert names == ["CP-000123-R2/1", "CP-000123-R2/2"]
    assert {mappers.ref_of_name(n) for n in names} == {"CP-000123-R2"}
    assert [v["product_id"] for v in mappers.expense_vals(two)] == [1, 3]
    assert mappers.xmlid_name(names[1]) == "CP-000123-R2.2"


def test_move_vals_are_a_vendor_bill_carrying_the_ref():
    p = posting(lines=(PostingLine(amount=Decimal("115"), untaxed_amount=Decimal("100"), tax_ids=(2,),
                                   analytic_distribution={"4": 60, "5": 40}, description="Dinner"),))
    vals = mappers.move_vals(p, partner_id=10)
    assert (vals["move_type"], vals["ref"], vals["partner_id"], vals["currency_id"]) == ("in_invoice", "CP-000123-R2", 10, 125)
    [(command, _, line)] = vals["invoice_line_ids"]
    assert command == 0
    assert line == {"name": "Dinner", "product_id": 1, "quantity": 1.0, "price_unit": 100.0,
                    "tax_ids": [(6, 0, [2])], "analytic_distribution": {"4": 60.0, "5": 40.0}}


def test_sheet_vals_name_the_report_after_the_ref():
    assert mappers.sheet_vals(posting(), [14]) == {
        "name": "CP-000123-R2", "employee_id": 5, "payment_mode": "own_account",
        "expense_line_ids": [(6, 0, [14])]}


def test_validation_catches_what_odoo_would_refuse():
    assert mappers.validate_posting(posting(), "expense") is None
    assert "reference" in mappers.validate_posting(posting(ref="bad ref.with dots"), "expense")
    assert "positive" in mappers.validate_posting(posting(lines=(PostingLine(amount=Decimal("0")),)), "expense")
    bad_split = (PostingLine(amount=Decimal("5"), analytic_distribution={"4": 80, "5": 40}),)
    assert "analytic" in mappers.validate_posting(posting(lines=bad_split), "expense")
    assert "base64" in mappers.validate_posting(posting(receipts=(Receipt("r.pdf", "application/pdf", "%%%"),)),
                                                "journal_entry")
    assert "employee_id" in mappers.validate_posting(posting(employee_id=0), "expense")


def test_version_parsing_and_fields():
    assert OdooVersion.from_payload({"server_version_info": [17, 0, 0, "final", 0, ""]}).major == 17
    v19 = OdooVersion.from_payload({"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"})
    assert (v19.major, v19.has_expense_sheets) == (19, False)
    assert OdooVersion.from_payload({"server_version": "saas~17.2"}).minor == 2
    assert "company_ids" in model_fields("account.account", v19)
    assert "company_id" in model_fields("account.account", OdooVersion(17))


def test_many2one_helpers():
    assert mappers.m2o_id([3, "x"]) == 3 and mappers.m2o_id(False) is None and mappers.m2o_id(4) == 4
    assert mappers.text(False) == "" and mappers.ids_of(False) == ()
    assert isinstance(OdooTax(1, "t", Decimal(1), "percent", "purchase"), OdooTax)


TAX_INCL = OdooTax(3, "15% (incl.)", Decimal("15"), "percent", "purchase", price_include=True)
TAX_EXCL = OdooTax(2, "15%", Decimal("15"), "percent", "purchase", price_include=False)


def test_price_included_flag_on_17_and_19():
    assert mappers.tax_from_odoo({"id": 3, "price_include": True}).price_include
    # 19: the override is the stored choice; price_include is computed from it
    assert mappers.tax_from_odoo({"id": 3, "price_include": False,
                                  "price_include_override": "tax_included"}).price_include
    assert not mappers.tax_from_odoo({"id": 2, "price_include": True,
                                      "price_include_override": "tax_excluded"}).price_include
    assert mappers.tax_from_odoo({"id": 4, "price_include": True, "price_include_override": False}).price_include


def test_bill_price_is_the_gross_when_every_tax_is_price_included():
    line = PostingLine(amount=Decimal("10.00"), untaxed_amount=Decimal("8.70"), tax_ids=(3,))
    assert mappers.bill_price_unit(line, {3: TAX_INCL}) == Decimal("10.00")
    assert mappers.bill_price_unit(PostingLine(amount=Decimal("20.00")), {}) == Decimal("20.00")  # no tax
    vals = mappers.move_vals(posting(lines=(line,)), partner_id=10, taxes={3: TAX_INCL})
    assert vals["invoice_line_ids"][0][2]["price_unit"] == 10.0


def test_bill_price_is_untaxed_otherwise():
    given = PostingLine(amount=Decimal("10.00"), untaxed_amount=Decimal("8.70"), tax_ids=(2,))
    assert mappers.bill_price_unit(given, {2: TAX_EXCL}) == Decimal("8.70")
    derived = PostingLine(amount=Decimal("115.00"), tax_ids=(2,))
    assert mappers.bill_price_unit(derived, {2: TAX_EXCL}) == Decimal("100.00")
    mixed = PostingLine(amount=Decimal("115.00"), untaxed_amount=Decimal("100.00"), tax_ids=(2, 3))
    assert mappers.bill_price_unit(mixed, {2: TAX_EXCL, 3: TAX_INCL}) == Decimal("100.00")
    unknown = PostingLine(amount=Decimal("115.00"), untaxed_amount=Decimal("100.00"), tax_ids=(9,))
    assert mappers.bill_price_unit(unknown, {}) == Decimal("100.00")


def test_bill_total_problem_names_the_rounding_cent():
    p = posting(lines=(PostingLine(amount=Decimal("10.00"), tax_ids=(2,)),))
    assert mappers.bill_total_problem(p, 10.0) is None
    assert mappers.bill_total_problem(p, 10.01) == (
        "tax rounding: posted total would be 10.01 instead of 10.00; use a price-included tax")
    assert mappers.bill_total_problem(p, 11.5).startswith("amount mismatch: posted total would be 11.50")
