"""The 17.0 expense workflow: expenses grouped in ``hr.expense.sheet`` reports.

As recorded: ``action_submit_expenses`` -> ``action_submit_sheet`` ->
``action_approve_expense_sheets`` (or the duplicate wizard) ->
``action_sheet_move_create`` (posted ``in_invoice`` in BILL, or a posted bank
payment for company_account) -> ``action_register_payment`` + the payment
register wizard. Refuse through ``hr.expense.refuse.wizard``; reset reverses a
posted bill. Methods returning None return None here; the XML-RPC layer turns
that into Odoo's marshalling Fault after the commit.
"""

from __future__ import annotations

import datetime as dt

from . import access, accounting, expense_common
from .accounting import create_move, make_payment, post, reverse
from .errors import UserError
from .expense_common import CLOSE, copy_main_attachments, expense_lines, payable_line
from .orm import Env, today
from .registry import Registry
from .seed import IDS

# sheet state -> state of its expenses
EXPENSE_STATE = {"draft": "reported", "submit": "submitted", "approve": "approved",
                 "post": "approved", "done": "done", "cancel": "refused"}


def set_sheet(env: Env, sheet_ids: list[int], **vals) -> None:
    """Write sheet values and keep the stored state of their expenses in step."""
    env.write("hr.expense.sheet", sheet_ids, vals, check=False)
    if "state" in vals:
        for sid in sheet_ids:
            lines = env.raw_value("hr.expense.sheet", sid, "expense_line_ids")
            if lines:
                env.write("hr.expense", lines, {"state": EXPENSE_STATE[vals["state"]]}, check=False)


def _sheet_name(env: Env, expense_ids: list[int]) -> str:
    if len(expense_ids) == 1:
        return env.rec("hr.expense", expense_ids[0]).get("name") or ""
    dates = sorted(env.rec("hr.expense", e).get("date") or today() for e in expense_ids)
    fmt = [dt.date.fromisoformat(d).strftime("%m/%d/%Y") for d in (dates[0], dates[-1])]
    return fmt[0] if fmt[0] == fmt[1] else f"{fmt[0]} - {fmt[1]}"


def approve(env: Env, sheet_ids: list[int]) -> None:
    set_sheet(env, sheet_ids, state="approve", approval_state="approve",
              approval_date=f"{today()} 00:00:00", user_id=env.uid)


def refuse(env: Env, sheet_ids: list[int], reason: str) -> None:
    for sid in sheet_ids:
        if env.rec("hr.expense.sheet", sid).get("state") in ("post", "done"):
            raise UserError("You cannot cancel an expense sheet linked to a journal entry")
    set_sheet(env, sheet_ids, state="cancel", refuse_reason=reason)


def after_payment(env: Env, move_ids: list[int]) -> None:
    """A bill got paid: its report becomes done / paid (or partial)."""
    for mid in move_ids:
        sid = env.rec("account.move", mid).get("expense_sheet_id")
        if not sid:
            continue
        moves = env.raw_value("hr.expense.sheet", sid, "account_move_ids")
        states = {env.rec("account.move", m).get("payment_state") for m in moves}
        if states <= {"paid", "in_payment"}:
            set_sheet(env, [sid], state="done", payment_state="paid")
        elif "partial" in states or "paid" in states:
            set_sheet(env, [sid], payment_state="partial")


def post_sheet(env: Env, sid: int) -> None:
    sheet = env.rec("hr.expense.sheet", sid)
    expense_ids = env.raw_value("hr.expense.sheet", sid, "expense_line_ids")
    if sheet.get("payment_mode") == "company_account":
        lines = expense_lines(env, expense_ids, False)
        total = round(sum(x["debit"] for x in lines), 2)
        pid = make_payment(env, total, False, sheet.get("name") or "", lines=lines)
        move_id = env.rec("account.payment", pid)["move_id"]
        env.write("account.move", [move_id], {"expense_sheet_id": sid}, check=False)
        copy_main_attachments(env, expense_ids, move_id)
        set_sheet(env, [sid], state="done", payment_state="paid", accounting_date=today())
        return
    employee = env.rec("hr.employee", sheet.get("employee_id") or 0)
    partner = expense_common.ensure_work_contact(env, sheet.get("employee_id"))
    if not partner:
        raise UserError(f"No work contact found for the employee {employee.get('name')}, "
                        "please configure one.")
    lines = expense_lines(env, expense_ids, partner)
    lines.append(payable_line(lines, partner))
    move_id = create_move(env, {"move_type": "in_invoice", "journal_id": IDS["journal_bill"],
                                "partner_id": partner, "date": today(), "invoice_date": today(),
                                "ref": sheet.get("name"), "expense_sheet_id": sid}, lines)
    post(env, move_id)
    copy_main_attachments(env, expense_ids, move_id)
    set_sheet(env, [sid], state="post", accounting_date=today())


def register(reg: Registry) -> None:
    """Plug the 17.0 workflow into ``reg``."""
    expense_common.register(reg)
    reg.after_payment = after_payment  # type: ignore[attr-defined]

    def sheet_defaults(env, vals):
        mode = vals.get("payment_mode", "own_account")
        vals.setdefault("payment_mode", mode)
        vals.setdefault("state", "draft")
        vals.setdefault("approval_state", False)
        vals.setdefault("payment_state", "not_paid")
        vals.setdefault("company_id", IDS["company"])
        vals.setdefault("currency_id", IDS["usd"])
        vals.setdefault("employee_journal_id", IDS["journal_bill"])
        vals.setdefault("journal_id", IDS["journal_bank"] if mode == "company_account"
                        else IDS["journal_bill"])
        vals.setdefault("user_id", expense_common.expense_manager(env, vals.get("employee_id"))
                        or IDS["user_admin"])
        return vals

    reg.defaults["hr.expense.sheet"] = sheet_defaults

    def sheet_total(env, rid):
        lines = env.raw_value("hr.expense.sheet", rid, "expense_line_ids")
        return round(sum(float(env.rec("hr.expense", e).get("total_amount") or 0.0) for e in lines), 2)

    def sheet_residual(env, rid):
        sheet = env.rec("hr.expense.sheet", rid)
        if sheet.get("state") == "done":
            return 0.0
        moves = env.raw_value("hr.expense.sheet", rid, "account_move_ids")
        if moves:
            return round(sum(float(env.rec("account.move", m).get("amount_residual") or 0.0)
                             for m in moves), 2)
        return sheet_total(env, rid)

    reg.computed[("hr.expense.sheet", "total_amount")] = sheet_total
    reg.computed[("hr.expense.sheet", "amount_residual")] = sheet_residual

    @reg.method("hr.expense")
    def action_submit_expenses(env, model, ids):
        groups: dict[tuple, list[int]] = {}
        for eid in ids:
            exp = env.rec(model, eid)
            if exp.get("sheet_id"):
                raise UserError("You cannot report twice the same line!")
            groups.setdefault((exp.get("employee_id"), exp.get("payment_mode")), []).append(eid)
        sheet_ids = []
        for (employee_id, mode), eids in groups.items():
            sid = env.create("hr.expense.sheet", [{
                "name": _sheet_name(env, eids), "employee_id": employee_id, "payment_mode": mode,
                "expense_line_ids": [(6, 0, eids)]}])[0]
            env.write(model, eids, {"state": "reported"}, check=False)
            sheet_ids.append(sid)
        action = {"name": "New Expense Reports", "type": "ir.actions.act_window",
                  "res_model": "hr.expense.sheet", "context": {}, "views": [[False, "form"]],
                  "domain": [["id", "in", sheet_ids]]}
        if len(sheet_ids) == 1:
            action["res_id"] = sheet_ids[0]
        else:
            action["views"] = [[False, "list"], [False, "form"]]
        return action

    @reg.method("hr.expense.sheet")
    def action_submit_sheet(env, model, ids):
        set_sheet(env, ids, state="submit", approval_state="submit")

    @reg.method("hr.expense.sheet")
    def action_approve_expense_sheets(env, model, ids):
        if access.is_restricted(env):
            reasons = "\n ".join(f"{env.rec(model, s).get('name')}: Your are not a Manager or HR "
                                 "Officer" for s in ids)
            raise UserError(f"You cannot approve:\n {reasons}")
        own_lines = [e for s in ids for e in env.raw_value(model, s, "expense_line_ids")]
        dups = {d for e in own_lines for d in expense_common.duplicates(env, e)
                if d not in own_lines and env.rec("hr.expense", d).get("state") in ("approved", "done")}
        if dups:
            return expense_common.duplicate_action(env, {
                "default_sheet_ids": list(ids), "default_expense_ids": sorted(dups | set(own_lines))})
        approve(env, ids)

    @reg.method("hr.expense.sheet")
    def action_sheet_move_create(env, model, ids):
        for sid in ids:
            if env.rec(model, sid).get("state") != "approve":
                raise UserError("You can only generate accounting entry for approved expense(s).")
        for sid in ids:
            post_sheet(env, sid)

    @reg.method("hr.expense.sheet", name="action_register_payment")
    def sheet_register_payment(env, model, ids):
        moves = [m for s in ids for m in env.raw_value(model, s, "account_move_ids")
                 if env.rec("account.move", m).get("move_type") == "in_invoice"]
        return accounting.register_payment_action(env, moves, "Register Payment")

    @reg.method("hr.expense.sheet")
    def action_refuse_expense_sheets(env, model, ids):
        return dict(expense_common.REFUSE_ACTION, context={"default_sheet_ids": list(ids)})

    @reg.method("hr.expense.sheet")
    def action_reset_expense_sheets(env, model, ids):
        for sid in ids:
            for mid in env.raw_value(model, sid, "account_move_ids"):
                if env.rec("account.move", mid).get("state") == "posted":
                    reverse(env, mid)
                env.write("account.move", [mid], {"expense_sheet_id": False}, check=False)
        set_sheet(env, ids, state="draft", approval_state=False, payment_state="not_paid")

    @reg.method("hr.expense.refuse.wizard")
    def action_refuse(env, model, ids):
        for wid in ids:
            wiz = env.rec(model, wid)
            refuse(env, wiz.get("sheet_ids") or [], wiz.get("reason") or "")
        return dict(CLOSE)

    @reg.method("hr.expense.approve.duplicate", name="action_approve")
    def duplicate_approve(env, model, ids):
        for wid in ids:
            approve(env, env.rec(model, wid).get("sheet_ids") or [])
        return dict(CLOSE)

    @reg.method("hr.expense.approve.duplicate", name="action_refuse")
    def duplicate_refuse(env, model, ids):
        for wid in ids:
            refuse(env, env.rec(model, wid).get("sheet_ids") or [], "Duplicate Expense")
        return dict(CLOSE)

    def unlink_guard(env, ids):
        for eid in ids:
            if env.rec("hr.expense", eid).get("state") in ("approved", "done"):
                raise UserError("You cannot delete a posted or approved expense.")

    reg.before_unlink["hr.expense"] = unlink_guard
