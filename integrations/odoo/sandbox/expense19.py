"""The 19.0 expense workflow: no reports, the state lives on ``hr.expense``.

As recorded: ``action_submit`` (straight to approved without an approver) ->
``action_approve`` (or the duplicate wizard) -> ``action_post`` (company-paid
ones are paid at once; employee-paid ones return the ``hr.expense.post.wizard``
action whose context must be passed to ``action_post_entry``) -> ``action_pay``
+ payment register. ``action_refuse`` / ``action_reset`` with their guards.
"""

from __future__ import annotations

from . import access, expense_common
from .accounting import create_move, make_payment, post, register_payment_action
from .errors import UserError, ValidationError
from .expense_common import CLOSE, REFUSE_ACTION, copy_main_attachments, expense_lines, payable_line
from .orm import Env, today
from .registry import Registry
from .seed import IDS

PAID_LIKE = ("approved", "posted", "in_payment", "paid")


def _set(env: Env, ids: list[int], **vals) -> None:
    env.write("hr.expense", ids, vals, check=False)


def approve(env: Env, ids: list[int]) -> None:
    _set(env, ids, state="approved", approval_state="approved",
         approval_date=f"{today()} 00:00:00")


def refuse(env: Env, ids: list[int], reason: str) -> None:
    for eid in ids:
        move = env.rec("account.move", env.rec("hr.expense", eid).get("account_move_id") or 0)
        if move.get("state") == "posted":
            raise UserError("You cannot cancel an expense linked to a posted journal entry")
    _set(env, ids, state="refused", approval_state="refused", refuse_reason=reason)


def after_payment(env: Env, move_ids: list[int]) -> None:
    """Payments reached a receipt: its expenses follow its payment state."""
    for mid in move_ids:
        state = env.rec("account.move", mid).get("payment_state")
        expenses = env.raw_value("account.move", mid, "expense_ids")
        if expenses and state in ("paid", "partial", "in_payment"):
            _set(env, expenses, state="in_payment" if state == "in_payment" else "paid")


def post_company_paid(env: Env, eid: int) -> int:
    """Pay a company-paid expense with a posted bank payment; returns the entry id."""
    exp = env.rec("hr.expense", eid)
    lines = expense_lines(env, [eid], False)
    total = round(sum(x["debit"] for x in lines), 2)
    pid = make_payment(env, total, False, exp.get("name") or "", lines=lines,
                       currency_id=exp.get("currency_id"),
                       amount_currency=float(exp.get("total_amount_currency") or 0.0))
    move_id = env.rec("account.payment", pid)["move_id"]
    copy_main_attachments(env, [eid], move_id)
    _set(env, [eid], state="paid", account_move_id=move_id)
    return move_id


def post_employee_paid(env: Env, ids: list[int], journal_id: int, date: str) -> list[int]:
    """One posted ``in_receipt`` per employee; returns the new entry ids."""
    by_employee: dict[int, list[int]] = {}
    for eid in ids:
        by_employee.setdefault(env.rec("hr.expense", eid).get("employee_id"), []).append(eid)
    move_ids = []
    for employee_id, eids in by_employee.items():
        employee = env.rec("hr.employee", employee_id or 0)
        partner = expense_common.ensure_work_contact(env, employee_id)
        ref = (env.rec("hr.expense", eids[0]).get("name") if len(eids) == 1
               else f"Expenses of {employee.get('name')}")
        lines = expense_lines(env, eids, partner)
        lines.append(payable_line(lines, partner))
        move_id = create_move(env, {"move_type": "in_receipt", "journal_id": journal_id,
                                    "partner_id": partner, "date": date, "invoice_date": date,
                                    "ref": ref}, lines)
        post(env, move_id)
        copy_main_attachments(env, eids, move_id)
        _set(env, eids, state="posted", account_move_id=move_id)
        move_ids.append(move_id)
    return move_ids


def register(reg: Registry) -> None:
    """Plug the 19.0 workflow into ``reg``."""
    expense_common.register(reg)
    reg.after_payment = after_payment  # type: ignore[attr-defined]

    def residual(env, rid):
        exp = env.rec("hr.expense", rid)
        if exp.get("payment_mode") != "own_account" or not exp.get("account_move_id"):
            return 0.0
        return float(env.rec("account.move", exp["account_move_id"]).get("amount_residual") or 0.0)

    reg.computed[("hr.expense", "amount_residual")] = residual

    @reg.method("hr.expense")
    def action_submit(env, model, ids):
        for eid in ids:
            exp = env.rec(model, eid)
            if not exp.get("product_id"):
                raise UserError("You can not submit an expense without a category.")
            if not float(exp.get("total_amount_currency") or 0.0):
                raise ValidationError("Only draft expenses can have a total of 0.")
        for eid in ids:
            # the employee's approvers decide (the expense's manager_id defaults to its creator)
            if expense_common.expense_manager(env, env.rec(model, eid).get("employee_id")):
                _set(env, [eid], state="submitted", approval_state="submitted")
            else:
                approve(env, [eid])

    @reg.method("hr.expense")
    def action_approve(env, model, ids):
        if access.is_restricted(env):
            reasons = "\n ".join(f"{env.rec(model, e).get('name')}: Your are not a Manager or HR "
                                 "Officer" for e in ids)
            raise UserError(f"You cannot approve:\n {reasons}")
        dups = {d for e in ids for d in expense_common.duplicates(env, e)
                if d not in ids and env.rec(model, d).get("state") in PAID_LIKE}
        if dups:
            return expense_common.duplicate_action(
                env, {"default_expense_ids": sorted(dups | set(ids))})
        approve(env, ids)

    @reg.method("hr.expense")
    def action_post(env, model, ids):
        for eid in ids:
            if env.rec(model, eid).get("state") != "approved":
                raise UserError("You can only generate an accounting entry for approved expense(s).")
        company = [e for e in ids if env.rec(model, e).get("payment_mode") == "company_account"]
        own = [e for e in ids if e not in company]
        company_moves = [post_company_paid(env, e) for e in company]
        if not own:
            return None
        wizard = env.create("hr.expense.post.wizard", [{
            "company_id": IDS["company"], "accounting_date": today(),
            "employee_journal_id": IDS["journal_bill"]}])[0]
        return {"type": "ir.actions.act_window",
                "name": "Post expenses paid by the employee" if company else "Post expenses",
                "view_mode": "form", "views": [[False, "form"]], "res_model": "hr.expense.post.wizard",
                "res_id": wizard, "target": "new",
                "context": {"company_paid_move_ids": company_moves, "active_ids": own}}

    def wizard_defaults(env, vals):
        vals.setdefault("company_id", IDS["company"])
        vals.setdefault("accounting_date", today())
        vals.setdefault("employee_journal_id", IDS["journal_bill"])
        return vals

    reg.defaults["hr.expense.post.wizard"] = wizard_defaults

    @reg.method("hr.expense.post.wizard")
    def action_post_entry(env, model, ids):
        wiz = env.rec(model, ids[0]) if ids else {}
        expense_ids = list(env.context["active_ids"])  # KeyError without it, as in 19.0
        env.ensure("hr.expense", expense_ids)
        new_moves = post_employee_paid(env, expense_ids, wiz.get("employee_journal_id")
                                       or IDS["journal_bill"], wiz.get("accounting_date") or today())
        # 19.0 bug kept on purpose: a missing key defaults to a tuple -> TypeError, rolled back
        moves_ids = new_moves + env.context.get("company_paid_move_ids", tuple())
        if len(moves_ids) == 1:
            return {"type": "ir.actions.act_window", "res_model": "account.move",
                    "name": env.rec("account.move", moves_ids[0]).get("ref"), "view_mode": "form",
                    "res_id": moves_ids[0]}
        return {"type": "ir.actions.act_window", "res_model": "account.move",
                "name": "New expense entries", "view_mode": "list,form",
                "views": [[968, "list"], [False, "form"]], "domain": [["id", "in", moves_ids]]}

    @reg.method("hr.expense")
    def action_pay(env, model, ids):
        moves = sorted({env.rec(model, e).get("account_move_id") for e in ids} - {None, False})
        return register_payment_action(env, moves, "Pay")

    @reg.method("hr.expense", name="action_refuse")
    def expense_refuse(env, model, ids):
        return dict(REFUSE_ACTION)

    def refuse_defaults(env, vals):
        if "expense_ids" not in vals and env.context.get("active_model", "hr.expense") == "hr.expense":
            vals["expense_ids"] = [(6, 0, list(env.context.get("active_ids") or []))]
        return vals

    reg.defaults["hr.expense.refuse.wizard"] = refuse_defaults

    @reg.method("hr.expense.refuse.wizard", name="action_refuse")
    def wizard_refuse(env, model, ids):
        for wid in ids:
            wiz = env.rec(model, wid)
            refuse(env, wiz.get("expense_ids") or [], wiz.get("reason") or "")
        return dict(CLOSE)

    @reg.method("hr.expense.approve.duplicate", name="action_approve")
    def duplicate_approve(env, model, ids):
        for wid in ids:
            pending = [e for e in env.rec(model, wid).get("expense_ids") or []
                       if env.rec("hr.expense", e).get("approval_state") == "submitted"]
            approve(env, pending)
        return dict(CLOSE)

    @reg.method("hr.expense.approve.duplicate", name="action_refuse")
    def duplicate_refuse(env, model, ids):
        for wid in ids:
            pending = [e for e in env.rec(model, wid).get("expense_ids") or []
                       if env.rec("hr.expense", e).get("approval_state") == "submitted"]
            refuse(env, pending, "Duplicate Expense")
        return dict(CLOSE)

    @reg.method("hr.expense")
    def action_reset(env, model, ids):
        for eid in ids:
            move_id = env.rec(model, eid).get("account_move_id")
            if move_id and env.rec("account.move", move_id).get("state") == "posted":
                raise UserError("You cannot reset to draft an expense linked to a posted journal entry.")
        for eid in ids:
            move_id = env.rec(model, eid).get("account_move_id")
            if move_id and env.store.get("account.move", move_id):
                env.unlink("account.move", [move_id], check=False)
        _set(env, ids, state="draft", approval_state=False, approval_date=False,
             account_move_id=False)

    def unlink_guard(env, ids):
        for eid in ids:
            if env.rec("hr.expense", eid).get("state") in PAID_LIKE:
                raise UserError("You cannot delete a posted or approved expense.")

    reg.before_unlink["hr.expense"] = unlink_guard
