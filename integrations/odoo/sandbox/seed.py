"""Seed data written on the first start of an empty database file.

Mirrors the recorded servers (generic chart of accounts, company currency USD,
EUR active at 0.92, the hr_expense products) and adds a restricted user.
``IDS`` names the fixed ids the workflow code relies on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .orm import Env

IDS = {
    "company": 1, "usd": 1, "eur": 125, "country_us": 233, "user_root": 1, "user_admin": 2,
    "user_demo": 6, "partner_company": 1, "partner_root": 2, "partner_admin": 3, "partner_demo": 4,
    "dept_admin": 1, "emp_admin": 1, "emp_demo": 2, "acc_receivable": 6, "acc_tax_paid": 8,
    "acc_payable": 14, "acc_tax_received": 17, "acc_income": 28, "acc_expense": 30,
    "acc_bank": 44, "acc_outstanding_payments": 45, "tax_sale": 1, "tax_purchase": 2,
    "tax_purchase_included": 3,
    "journal_sale": 1, "journal_bill": 2, "journal_misc": 3, "journal_exch": 4, "journal_caba": 5,
    "journal_bank": 6, "journal_cash": 7, "pml_manual": 3, "plan": 1, "analytic": 1,
}
PRODUCTS = [  # id, name, default_code, standard_price, xmlid
    (1, "Meals", "FOOD", 0.0, "expense_product_meal"),
    (2, "Travel & Accommodation", "TRANS & ACC", 0.0, "expense_product_travel_accommodation"),
    (3, "Mileage", "MIL", 1.0, "expense_product_mileage"),
    (4, "Gifts", "GIFT", 0.0, "expense_product_gift"),
    (5, "Communication", "COMM", 0.0, "expense_product_communication"),
    (6, "Others", "EXP_GEN", 0.0, "product_product_no_cost"),
]
ACCOUNTS = [  # id, code, name, account_type
    (6, "121000", "Account Receivable", "asset_receivable"),
    (8, "131000", "Tax Paid", "asset_current"),
    (14, "211000", "Account Payable", "liability_payable"),
    (17, "251000", "Tax Received", "liability_current"),
    (28, "400000", "Product Sales", "income"),
    (30, "600000", "Expenses", "expense"),
    (44, "101401", "Bank", "asset_cash"),
    (45, "101404", "Outstanding Payments", "asset_current"),
]
JOURNALS = [  # id, name, code, type
    (1, "Customer Invoices", "INV", "sale"), (2, "Vendor Bills", "BILL", "purchase"),
    (3, "Miscellaneous Operations", "MISC", "general"), (4, "Exchange Difference", "EXCH", "general"),
    (5, "Cash Basis Taxes", "CABA", "general"), (6, "Bank", "BNK1", "bank"), (7, "Cash", "CSH1", "cash"),
]
JOURNAL_ACCOUNTS = {1: 28, 2: 30, 6: 44}  # sales -> income, purchases -> expenses, bank -> bank
DEFAULT_API_KEY = "sandbox-api-key"
DEMO_API_KEY = "sandbox-demo-api-key"


def _put(env: Env, model: str, rid: int, vals: dict, xmlid: str | None = None) -> None:
    """Create a record with a fixed id (seed only) and, optionally, its external id."""
    from .orm import now_ts

    stamp = now_ts()
    rec = {"create_date": stamp, "write_date": stamp, "create_uid": 1, "write_uid": 1, **vals}
    env.store.put(model, rid, rec)
    env.store.reserve_ids(model, rid + 1)
    if xmlid:
        module, name = xmlid.split(".")
        env.create("ir.model.data", [{"module": module, "name": name, "model": model, "res_id": rid,
                                       "noupdate": True, "complete_name": xmlid}])


def seed(env: Env, api_key: str) -> None:
    """Write the seed records into an empty store (inside the caller's transaction)."""
    p19 = env.profile == "19"
    _put(env, "res.country", 233, {"name": "United States", "code": "US"}, "base.us")
    _put(env, "res.currency", 1, {"name": "USD", "symbol": "$", "active": True, "rate": 1.0,
                                  "inverse_rate": 1.0, "decimal_places": 2,
                                  "currency_unit_label": "Dollars"}, "base.USD")
    _put(env, "res.currency", 125, {"name": "EUR", "symbol": "€", "active": True, "rate": 0.92,
                                    "inverse_rate": 1.0869565217391304, "decimal_places": 2,
                                    "currency_unit_label": "Euros"}, "base.EUR")
    _put(env, "res.currency.rate", 1, {"name": "2020-01-01", "currency_id": 125, "rate": 0.92,
                                       "company_id": 1})
    for rid, name, extra in ((1, "My Company", {"is_company": True}), (2, "OdooBot", {}),
                             (3, "Administrator", {"email": "admin@example.com"}),
                             (4, "Demo User", {"email": "demo@example.com"})):
        _put(env, "res.partner", rid, {"name": name, "active": True, "company_id": 1, **extra},
             {1: "base.main_partner", 2: "base.partner_root", 3: "base.partner_admin",
              4: "base.partner_demo"}[rid])
    env.store.reserve_ids("res.partner", 10)
    _put(env, "res.company", 1, {"name": "My Company", "currency_id": 1, "partner_id": 1,
                                 "chart_template": "generic_coa", "country_id": 233,
                                 "account_fiscal_country_id": 233, "expense_journal_id": 2},
         "base.main_company")
    _put(env, "res.users", 1, {"name": "OdooBot", "login": "__system__", "active": False,
                               "partner_id": 2, "company_id": 1}, "base.user_root")
    _put(env, "res.users", 2, {"name": "Administrator", "login": "admin", "password": "admin",
                               "active": True, "partner_id": 3, "company_id": 1,
                               "sandbox_role": "admin", "api_keys": [api_key]}, "base.user_admin")
    _put(env, "res.users", 6, {"name": "Demo User", "login": "demo", "password": "demo",
                               "active": True, "partner_id": 4, "company_id": 1,
                               "sandbox_role": "employee", "api_keys": [DEMO_API_KEY]},
         "base.user_demo")
    _put(env, "ir.model.data", 9000, {"module": "base", "name": "group_user", "model": "res.groups",
                                      "res_id": 1, "noupdate": True})
    _put(env, "hr.department", 1, {"name": "Administration", "company_id": 1, "active": True},
         "hr.dep_administration")
    _put(env, "hr.employee", 1, {"name": "Administrator", "work_email": "admin@example.com",
                                 "user_id": 2, "department_id": 1, "work_contact_id": 3,
                                 "company_id": 1, "active": True}, "hr.employee_admin")
    _put(env, "hr.employee", 2, {"name": "Demo User", "work_email": "demo@example.com",
                                 "user_id": 6, "department_id": 1, "work_contact_id": 4,
                                 "company_id": 1, "active": True, "expense_manager_id": 2},
         "hr.employee_demo")
    for rid, code, name, atype in ACCOUNTS:
        _put(env, "account.account", rid, {"code": code, "name": name, "account_type": atype,
                                           "company_id": 1, "active": True,
                                           "reconcile": atype in ("asset_receivable",
                                                                  "liability_payable")},
             f"account.1_account_{code}")
    for rid, name, code, jtype in JOURNALS:
        if p19 and rid == 7:
            continue  # 19.0's generic chart has no cash journal
        name = {1: "Sales", 2: "Purchases"}.get(rid, name) if p19 else name
        _put(env, "account.journal", rid, {"name": name, "code": code, "type": jtype,
                                           "company_id": 1, "active": True, "sequence": rid,
                                           "currency_id": False,
                                           "default_account_id": JOURNAL_ACCOUNTS.get(rid, False)},
             f"account.1_{code.lower()}_journal")
    pml_id, pml_name = (2, "Manual Payment (Bank)") if p19 else (3, "Manual")
    IDS["pml_manual"] = pml_id
    _put(env, "account.payment.method.line", pml_id, {"name": pml_name, "journal_id": 6,
                                                      "payment_type": "outbound"})
    for rid, use, acc in ((1, "sale", 17), (2, "purchase", 8)):
        _put(env, "account.tax", rid, {"name": "15%", "amount": 15.0, "amount_type": "percent",
                                       "type_tax_use": use, "price_include": False,
                                       "company_id": 1, "active": True, "sequence": 1,
                                       "country_id": 233, "sandbox_account_id": acc},
             f"account.1_{use}_tax_template")
    # Expense taxes are price-included (115 with 15% -> 100 net + 15 tax); 19 keeps the flag in
    # price_include_override and computes the read-only price_include from it.
    included = {"price_include": True}
    if p19:
        included["price_include_override"] = "tax_included"
    _put(env, "account.tax", IDS["tax_purchase_included"], {
        "name": "15% (incl.)", "amount": 15.0, "amount_type": "percent", "type_tax_use": "purchase",
        "company_id": 1, "active": True, "sequence": 2, "country_id": 233, "sandbox_account_id": 8,
        **included}, "account.1_purchase_tax_included")
    _put(env, "account.analytic.plan", 1, {"name": "Projects"}, "analytic.analytic_plan_projects")
    _put(env, "account.analytic.account", 1, {"name": "Sandbox Project", "plan_id": 1,
                                              "company_id": 1, "active": True},
         "analytic.analytic_sandbox_project")
    for rid, name, code, price, xmlid in PRODUCTS:
        if p19 and rid == 6:
            name = "Expenses"
        _put(env, "product.product", rid, {"name": name, "default_code": code,
                                           "standard_price": price, "can_be_expensed": True,
                                           "supplier_taxes_id": [], "active": True,
                                           "property_account_expense_id": False},
             f"hr_expense.{xmlid}")
    env.store.reserve_ids("ir.model.data", 9001)
    env.store.set_meta("profile", env.profile)


def apply_profile_ids(profile: str) -> None:
    """Set the profile-dependent fixed ids (payment method line) without seeding."""
    IDS["pml_manual"] = 2 if profile == "19" else 3
