"""Expense behaviour shared by the 17 and 19 profiles.

Defaults and amounts of ``hr.expense`` (tax-included totals, company-currency
conversion with the dated rate, ``currency_rate`` = total / total in currency),
duplicate detection (same employee, product, date, amount and currency), the
journal lines an expense books, employees' work contacts, and the wizard
actions exactly as recorded.
"""

from __future__ import annotations

from typing import Any

from .accounting import split_taxes, to_company
from .errors import UserError
from .orm import Env, today
from .registry import Registry
from .seed import IDS

AMOUNT_KEYS = {"total_amount_currency", "currency_id", "tax_ids", "date", "product_id", "quantity",
               "price_unit", "total_amount"}

DUPLICATE_ACTION = {
    "id": 326, "display_name": "Validate Duplicate Expenses", "name": "Validate Duplicate Expenses",
    "type": "ir.actions.act_window", "xml_id": "hr_expense.hr_expense_approve_duplicate_action",
    "path": False, "help": False, "binding_model_id": False, "binding_type": "action",
    "binding_view_types": "list,form", "view_id": [942, "hr.expense.approve.duplicate form"],
    "domain": False, "context": {}, "res_id": 0, "res_model": "hr.expense.approve.duplicate",
    "target": "new", "view_mode": "form", "mobile_view_mode": "kanban", "views": [[942, "form"]],
    "limit": 80, "group_ids": [], "search_view_id": False, "embedded_action_ids": [],
    "filter": False, "cache": True,
}
REFUSE_ACTION = {
    "id": 325, "display_name": "Refuse Expense", "name": "Refuse Expense",
    "type": "ir.actions.act_window", "xml_id": "hr_expense.hr_expense_refuse_wizard_action",
    "path": False, "help": False, "binding_model_id": False, "binding_type": "action",
    "binding_view_types": "list,form", "view_id": [941, "hr.expense.refuse.wizard.form"],
    "domain": False, "context": "{'dialog_size': 'medium'}", "res_id": 0,
    "res_model": "hr.expense.refuse.wizard", "target": "new", "view_mode": "form",
    "mobile_view_mode": "kanban", "views": [[941, "form"]], "limit": 80, "group_ids": [],
    "search_view_id": False, "embedded_action_ids": [], "filter": False, "cache": True,
}
CLOSE = {"type": "ir.actions.act_window_close"}


def duplicate_action(env: Env, context: dict) -> dict:
    """The 'Validate Duplicate Expenses' action in the profile's shape."""
    action = dict(DUPLICATE_ACTION, context=context)
    if env.profile == "17":
        action.pop("path"), action.pop("embedded_action_ids"), action.pop("cache")
        action["id"], action["view_id"], action["views"] = 316, [903, "hr.expense.approve.duplicate form"], [[903, "form"]]
        action["groups_id"] = action.pop("group_ids")
    return action


def user_employee(env: Env) -> int | bool:
    found = env.store.lookup("hr.employee", "user_id", env.uid) or set()
    return min(found) if found else False


def expense_defaults(env: Env, vals: dict) -> dict:
    """Odoo's defaults: the user's employee, company currency, today, own_account..."""
    if "employee_id" not in vals:
        vals["employee_id"] = user_employee(env)
    vals.setdefault("currency_id", IDS["usd"])
    vals.setdefault("company_id", IDS["company"])
    vals.setdefault("payment_mode", "own_account")
    vals.setdefault("date", today())
    vals.setdefault("quantity", 1.0)
    vals.setdefault("state", "draft")
    if not vals.get("account_id") and vals.get("product_id"):
        product = env.rec("product.product", vals["product_id"])
        vals["account_id"] = product.get("property_account_expense_id") or IDS["acc_expense"]
    if "tax_ids" not in vals and vals.get("product_id"):
        taxes = env.rec("product.product", vals["product_id"]).get("supplier_taxes_id") or []
        vals["tax_ids"] = [(6, 0, taxes)]
    if env.profile == "19":
        vals.setdefault("approval_state", False)
        employee = env.rec("hr.employee", vals.get("employee_id") or 0)
        vals.setdefault("manager_id", expense_manager(env, vals.get("employee_id")) or env.uid)
        vals.setdefault("journal_id", IDS["journal_bank"])
        vals.setdefault("payment_method_line_id", IDS["pml_manual"])
        vals.setdefault("department_id", employee.get("department_id") or False)
    return vals


def expense_manager(env: Env, employee_id: Any) -> int | bool:
    """The user who approves this employee's expenses (False: nobody, auto-approval in 19)."""
    emp = env.rec("hr.employee", employee_id or 0)
    if emp.get("expense_manager_id"):
        return emp["expense_manager_id"]
    parent = env.rec("hr.employee", emp.get("parent_id") or 0)
    if parent.get("user_id"):
        return parent["user_id"]
    dept = env.rec("hr.department", emp.get("department_id") or 0)
    manager = env.rec("hr.employee", dept.get("manager_id") or 0)
    return manager.get("user_id") or False


def compute_amounts(env: Env, rid: int, keep_total: bool = False) -> None:
    """Recompute the derived amounts of one expense (see module docstring)."""
    rec = env.rec("hr.expense", rid)
    currency = rec.get("currency_id") or IDS["usd"]
    tax_ids = rec.get("tax_ids") or []
    total_cur = float(rec.get("total_amount_currency") or 0.0)
    product = env.rec("product.product", rec.get("product_id") or 0)
    if product.get("standard_price"):
        total_cur = round(float(product["standard_price"]) * float(rec.get("quantity") or 1.0), 2)
    untaxed_cur, taxes_cur = split_taxes(env, total_cur, tax_ids)
    if currency == IDS["usd"]:
        total = total_cur
    elif keep_total and rec.get("total_amount") is not None:
        total = float(rec["total_amount"])
    else:
        total = to_company(env, total_cur, currency, rec.get("date"))
    untaxed, taxes = split_taxes(env, total, tax_ids)
    rate = 1.0 if currency == IDS["usd"] or not total_cur else round(total / total_cur, 9)
    cur_name = env.rec("res.currency", currency).get("name", "")
    vals = {
        "total_amount_currency": total_cur, "price_unit": total_cur,
        "untaxed_amount_currency": untaxed_cur,
        "tax_amount_currency": round(sum(a for _, a in taxes_cur), 2),
        "total_amount": total, "tax_amount": round(sum(a for _, a in taxes), 2),
        "currency_rate": rate, "company_currency_id": IDS["usd"],
        "is_multiple_currency": currency != IDS["usd"],
        "label_currency_rate": f"1 {cur_name} = {rate:.6f} USD" if currency != IDS["usd"] else False,
    }
    if "untaxed_amount" in env.models["hr.expense"].fields:
        vals["untaxed_amount"] = untaxed
    env.write("hr.expense", [rid], vals, check=False)


def duplicates(env: Env, rid: int) -> list[int]:
    """Ids of the expenses similar to ``rid`` (itself included), [] when it is alone."""
    rec = env.rec("hr.expense", rid)
    if not rec.get("employee_id"):
        return []
    same = env.store.lookup("hr.expense", "employee_id", rec["employee_id"]) or set()
    keys = ("product_id", "date", "total_amount_currency", "currency_id", "company_id")
    group = sorted(i for i in same
                   if all(env.rec("hr.expense", i).get(k) == rec.get(k) for k in keys))
    return group if len(group) > 1 else []


def ensure_work_contact(env: Env, employee_id: int) -> int | bool:
    """The employee's work contact, created from its work email when missing."""
    emp = env.rec("hr.employee", employee_id)
    if emp.get("work_contact_id"):
        return emp["work_contact_id"]
    if not emp.get("work_email"):
        return False
    pid = env.create("res.partner", [{"name": emp.get("name"), "email": emp["work_email"],
                                      "company_id": IDS["company"], "active": True}])[0]
    env.write("hr.employee", [employee_id], {"work_contact_id": pid}, check=False)
    return pid


def expense_lines(env: Env, expense_ids: list[int], partner_id: Any) -> list[dict]:
    """Product and tax lines (company currency) that ``expense_ids`` book."""
    lines: list[dict] = []
    for eid in expense_ids:
        exp = env.rec("hr.expense", eid)
        emp_name = env.rec("hr.employee", exp.get("employee_id") or 0).get("name", "")
        untaxed, taxes = split_taxes(env, float(exp.get("total_amount") or 0.0),
                                     exp.get("tax_ids") or [])
        lines.append({"account_id": exp.get("account_id") or IDS["acc_expense"],
                      "name": f"{emp_name}: {exp.get('name')}", "debit": untaxed, "credit": 0.0,
                      "partner_id": partner_id, "analytic_distribution":
                          exp.get("analytic_distribution") or False,
                      "tax_ids": [(6, 0, exp.get("tax_ids") or [])], "expense_id": eid,
                      "display_type": "product"})
        for tax_id, amount in taxes:
            tax = env.rec("account.tax", tax_id)
            lines.append({"account_id": tax.get("sandbox_account_id") or IDS["acc_tax_paid"],
                          "name": tax.get("name"), "debit": amount, "credit": 0.0,
                          "partner_id": partner_id, "tax_line_id": tax_id, "display_type": "tax"})
    return lines


def payable_line(lines: list[dict], partner_id: Any) -> dict:
    return {"account_id": IDS["acc_payable"], "name": "", "debit": 0.0,
            "credit": round(sum(x["debit"] for x in lines), 2), "partner_id": partner_id,
            "display_type": "payment_term"}


def copy_main_attachments(env: Env, expense_ids: list[int], move_id: int) -> None:
    """Copy each expense's main attachment onto the move (what posting does in Odoo)."""
    for eid in expense_ids:
        att_id = env.rec("hr.expense", eid).get("message_main_attachment_id")
        if att_id and env.store.get("ir.attachment", att_id):
            att = env.rec("ir.attachment", att_id)
            env.create("ir.attachment", [{"name": att.get("name"), "datas": att.get("datas"),
                                          "mimetype": att.get("mimetype"),
                                          "res_model": "account.move", "res_id": move_id}])


def register(reg: Registry) -> None:
    """Expense defaults, amount computation, guards and the employee's work contact."""
    reg.defaults["hr.expense"] = expense_defaults

    def after_create(env, rid):
        compute_amounts(env, rid)

    def after_write(env, ids, vals):
        if AMOUNT_KEYS & set(vals):
            # 19 keeps the company total when only the amount in currency changes (recorded)
            keep = env.profile == "19" and "currency_id" not in vals and "total_amount_currency" in vals
            for rid in ids:
                compute_amounts(env, rid, keep_total=keep or "total_amount" in vals)

    def before_write(env, ids, vals):
        if "is_editable" in vals:
            raise UserError("You cannot edit the security fields of an expense manually")

    reg.after_create["hr.expense"] = after_create
    reg.after_write["hr.expense"] = after_write
    reg.before_write["hr.expense"] = before_write
    reg.computed[("hr.expense", "duplicate_expense_ids")] = lambda env, rid: duplicates(env, rid)

    def employee_after_create(env, rid):
        ensure_work_contact(env, rid)

    def employee_after_write(env, ids, vals):
        if "work_email" in vals:
            for rid in ids:
                ensure_work_contact(env, rid)

    reg.after_create["hr.employee"] = employee_after_create
    reg.after_write["hr.employee"] = employee_after_write
