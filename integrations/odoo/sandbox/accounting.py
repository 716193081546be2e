"""Accounting shared by both profiles: currencies, taxes, journal entries, payments.

Promises, as recorded on real servers: amounts convert to company currency with
the dated rate (EUR at 0.92: 50 EUR -> 54.35 USD); expense taxes are price
included (115 with 15% -> 100 + 15); entries are named per journal and month
(``BILL/2026/12/0007``, payments ``PBNK1/2026/00004``); registering a payment
through ``account.payment.register`` posts an ``account.payment`` and lowers the
bills' ``amount_residual`` (``payment_state`` partial / paid).
"""

from __future__ import annotations

from typing import Any

from .errors import UserError
from .orm import Env, today
from .registry import Registry
from .seed import IDS


def currency_rate(env: Env, currency_id: int, date: str | None) -> float:
    """Units of ``currency_id`` per company-currency unit on ``date`` (1.0 for USD)."""
    if not currency_id or currency_id == IDS["usd"]:
        return 1.0
    date = date or today()
    found = env.store.lookup("res.currency.rate", "currency_id", currency_id) or set()
    rates = sorted((env.rec("res.currency.rate", r).get("name") or "", r) for r in found)
    best = None
    for name, rid in rates:
        if name <= date or best is None:
            best = rid
    if best is None:
        return float(env.rec("res.currency", currency_id).get("rate") or 1.0)
    return float(env.rec("res.currency.rate", best).get("rate") or 1.0)


def to_company(env: Env, amount: float, currency_id: int, date: str | None) -> float:
    return round(float(amount or 0.0) / currency_rate(env, currency_id, date), 2)


def split_taxes(env: Env, total: float, tax_ids: list[int]) -> tuple[float, list[tuple[int, float]]]:
    """(untaxed, [(tax id, tax amount)]) for a tax-included ``total``."""
    percents = [(t, float(env.rec("account.tax", t).get("amount") or 0.0)) for t in tax_ids]
    percents = [(t, p) for t, p in percents if p]
    if not percents:
        return round(total, 2), []
    untaxed = round(total / (1 + sum(p for _, p in percents) / 100.0), 2)
    remaining = round(total - untaxed, 2)
    out = []
    for i, (tax, pct) in enumerate(percents):
        amount = remaining if i == len(percents) - 1 else round(untaxed * pct / 100.0, 2)
        remaining = round(remaining - amount, 2)
        out.append((tax, amount))
    return untaxed, out


def _next(env: Env, prefix: str, company_id: int | None = None) -> int:
    """Next number of ``prefix``; sequences are per company (journal codes repeat across
    companies), company 1 keeping the bare prefix as key."""
    if company_id and company_id != IDS["company"]:
        prefix = f"{prefix}@{company_id}"
    found = env.store.lookup("ir.sequence", "name", prefix)
    if found:
        sid = min(found)
        number = int(env.rec("ir.sequence", sid).get("number_next") or 1)
        env.write("ir.sequence", [sid], {"number_next": number + 1}, check=False)
        return number
    env.create("ir.sequence", [{"name": prefix, "number_next": 2}])
    return 1


def move_name(env: Env, journal_id: int, move_type: str, date: str, payment: bool = False) -> str:
    """The next name of an entry in ``journal_id`` (Odoo's default sequences)."""
    journal = env.rec("account.journal", journal_id)
    code = journal.get("code") or "MISC"
    company_id = journal.get("company_id")
    year, month = date[:4], date[5:7]
    if payment:
        prefix = f"P{code}/{year}/"
        return f"{prefix}{_next(env, prefix, company_id):05d}"
    if move_type in ("in_refund", "out_refund"):
        code = f"R{code}"
    prefix = f"{code}/{year}/{month}/"
    return f"{prefix}{_next(env, prefix, company_id):04d}"


def create_move(env: Env, vals: dict[str, Any], lines: list[dict]) -> int:
    """Create a draft entry with its lines; totals and residual computed like Odoo."""
    move_type = vals.get("move_type", "entry")
    date = vals.get("date") or today()
    for line in lines:
        line.setdefault("currency_id", IDS["usd"])
        line.setdefault("amount_currency", round(line.get("debit", 0.0) - line.get("credit", 0.0), 2))
        line["balance"] = round(line.get("debit", 0.0) - line.get("credit", 0.0), 2)
        line.setdefault("date", date)
        line.setdefault("journal_id", vals.get("journal_id"))
        line.setdefault("company_id", IDS["company"])
    untaxed = round(sum(line.get("debit", 0.0) for line in lines
                        if line.get("display_type") == "product"), 2)
    tax = round(sum(line.get("debit", 0.0) for line in lines if line.get("display_type") == "tax"), 2)
    is_invoice = move_type != "entry"
    total = round(untaxed + tax, 2) if is_invoice else round(
        sum(line.get("debit", 0.0) for line in lines), 2)
    vals = {
        "state": "draft", "date": date, "currency_id": IDS["usd"], "company_id": IDS["company"],
        "amount_untaxed": untaxed, "amount_tax": tax, "amount_total": total,
        "amount_total_signed": -total if move_type.startswith("in_") else total,
        "amount_residual": total if is_invoice else 0.0, "payment_state": "not_paid",
        "auto_post": "no", **vals,
        "line_ids": [(0, 0, line) for line in lines],
    }
    return env.create("account.move", [vals])[0]


def post(env: Env, move_id: int, payment: bool = False) -> None:
    """Post an entry: name it (unless named) and mark it posted."""
    rec = env.rec("account.move", move_id)
    vals: dict[str, Any] = {"state": "posted"}
    if not rec.get("name") or rec.get("name") == "/":
        vals["name"] = move_name(env, rec["journal_id"], rec.get("move_type", "entry"),
                                 rec.get("date") or today(), payment)
    env.write("account.move", [move_id], vals, check=False)
    env.posted += 1


def reverse(env: Env, move_id: int) -> int:
    """Post the reversal of ``move_id``; the original becomes payment_state 'reversed'."""
    rec = env.rec("account.move", move_id)
    lines = []
    for lid in env.raw_value("account.move", move_id, "line_ids"):
        line = env.rec("account.move.line", lid)
        lines.append({k: line.get(k) for k in ("account_id", "name", "partner_id", "display_type",
                                               "tax_ids", "tax_line_id", "analytic_distribution")}
                     | {"debit": line.get("credit", 0.0), "credit": line.get("debit", 0.0)})
    rtype = {"in_invoice": "in_refund", "out_invoice": "out_refund"}.get(rec.get("move_type"), "entry")
    rev = create_move(env, {"move_type": rtype, "journal_id": rec["journal_id"],
                            "partner_id": rec.get("partner_id") or False,
                            "ref": f"Reversal of: {rec.get('name')}", "reversed_entry_id": move_id,
                            "invoice_date": today() if rtype != "entry" else False}, lines)
    post(env, rev)
    env.write("account.move", [move_id], {"payment_state": "reversed", "amount_residual": 0.0},
              check=False)
    env.write("account.move", [rev], {"payment_state": "reversed", "amount_residual": 0.0},
              check=False)
    return rev


def payment_state_name(env: Env) -> str:
    return "in_process" if env.profile == "19" else "posted"


def make_payment(env: Env, amount: float, partner_id: Any, memo: str,
                 lines: list[dict] | None = None, journal_id: int | None = None,
                 date: str | None = None, currency_id: int | None = None,
                 amount_currency: float | None = None) -> int:
    """Post an outbound supplier payment and its bank entry; returns the payment id.

    Without ``lines`` the entry debits the payable account (paying a bill); with
    ``lines`` (company-paid expenses) those debit lines are booked instead.
    """
    journal_id = journal_id or IDS["journal_bank"]
    date = date or today()
    if lines is None:
        lines = [{"account_id": IDS["acc_payable"], "name": memo, "debit": amount, "credit": 0.0,
                  "partner_id": partner_id or False, "display_type": "payment_term"}]
    lines = lines + [{"account_id": IDS["acc_outstanding_payments"], "name": memo,
                      "debit": 0.0, "credit": round(sum(x.get("debit", 0.0) for x in lines), 2),
                      "partner_id": partner_id or False,
                      "display_type": "product" if partner_id is False else "payment_term"}]
    move_id = create_move(env, {"move_type": "entry", "journal_id": journal_id,
                                "partner_id": partner_id or False, "ref": memo}, lines)
    post(env, move_id, payment=True)
    if currency_id and currency_id != IDS["usd"]:
        # foreign-currency payment: totals in the payment currency, signed total in USD
        env.write("account.move", [move_id], {"currency_id": currency_id,
                                              "amount_total": amount_currency}, check=False)
    move = env.rec("account.move", move_id)
    pay_vals = {"name": move["name"], "state": payment_state_name(env),
                "amount": amount_currency if amount_currency is not None else amount,
                "currency_id": currency_id or IDS["usd"], "journal_id": journal_id, "payment_type": "outbound",
                "partner_type": "supplier", "partner_id": partner_id or False,
                "is_reconciled": True, "is_matched": False, "move_id": move_id, "date": date,
                "payment_method_line_id": IDS["pml_manual"], "company_id": IDS["company"]}
    pay_vals["memo" if env.profile == "19" else "ref"] = memo
    pid = env.create("account.payment", [pay_vals])[0]
    link = "origin_payment_id" if env.profile == "19" else "payment_id"
    env.write("account.move", [move_id], {link: pid}, check=False)
    return pid


def reconcile(env: Env, move_ids: list[int], amount: float) -> None:
    """Apply a payment of ``amount`` to the moves' residuals, oldest first."""
    left = round(amount, 2)
    for mid in sorted(move_ids):
        residual = float(env.rec("account.move", mid).get("amount_residual") or 0.0)
        applied = min(residual, left)
        left = round(left - applied, 2)
        new = round(residual - applied, 2)
        env.write("account.move", [mid], {
            "amount_residual": new,
            "payment_state": "paid" if new <= 0.0 else ("partial" if applied else "not_paid"),
        }, check=False)
    hook = getattr(env.registry, "after_payment", None)
    if hook:
        hook(env, move_ids)


def register_payment_action(env: Env, move_ids: list[int], name: str) -> dict:
    """The ``account.payment.register`` wizard action for all lines of ``move_ids``."""
    line_ids = [lid for mid in move_ids for lid in env.raw_value("account.move", mid, "line_ids")]
    return {"name": name, "res_model": "account.payment.register", "view_mode": "form",
            "views": [[False, "form"]],
            "context": {"active_model": "account.move.line", "active_ids": line_ids},
            "target": "new", "type": "ir.actions.act_window"}


def register(reg: Registry) -> None:
    """Plug account.move buttons and the payment-register wizard into ``reg``."""
    pay_title = "Pay" if reg.profile == "19" else "Register Payment"

    @reg.method("account.move")
    def action_post(env, model, ids):
        from .invoices import check_postable

        for mid in ids:
            if env.rec(model, mid).get("state") != "posted":
                check_postable(env, mid)
        for mid in ids:
            if env.rec(model, mid).get("state") != "posted":
                post(env, mid)
        return False

    @reg.method("account.move")
    def button_draft(env, model, ids):
        env.write(model, ids, {"state": "draft"}, check=False)

    @reg.method("account.move")
    def button_cancel(env, model, ids):
        env.write(model, ids, {"state": "cancel"}, check=False)

    @reg.method("account.move", name="action_register_payment")
    def move_register_payment(env, model, ids):
        return register_payment_action(env, ids, pay_title)

    def wizard_defaults(env, vals):
        line_ids = env.context.get("active_ids") or []
        if env.context.get("active_model") not in ("account.move.line", "account.move") or not line_ids:
            raise UserError("The register payment wizard should only be called on account.move or "
                            "account.move.line records.")
        if env.context.get("active_model") == "account.move":
            line_ids = [lid for mid in line_ids for lid in env.raw_value("account.move", mid, "line_ids")]
        moves = sorted({env.rec("account.move.line", lid).get("move_id") for lid in line_ids} - {None})
        first = env.rec("account.move", moves[0]) if moves else {}
        residual = round(sum(float(env.rec("account.move", m).get("amount_residual") or 0.0)
                             for m in moves), 2)
        defaults = {"line_ids": [(6, 0, line_ids)], "amount": residual, "currency_id": IDS["usd"],
                    "journal_id": IDS["journal_bank"], "payment_date": today(),
                    "partner_id": first.get("partner_id") or False,
                    "payment_method_line_id": IDS["pml_manual"],
                    "communication": first.get("ref") or first.get("name") or "",
                    "can_edit_wizard": True, "group_payment": True,
                    "payment_difference_handling": "open", "company_id": IDS["company"]}
        return {**defaults, **vals}

    reg.defaults["account.payment.register"] = wizard_defaults

    @reg.method("account.payment.register")
    def action_create_payments(env, model, ids):
        pid = False
        for wid in ids:
            wiz = env.rec(model, wid)
            moves = sorted({env.rec("account.move.line", lid).get("move_id")
                            for lid in wiz.get("line_ids") or []} - {None})
            pid = make_payment(env, float(wiz.get("amount") or 0.0), wiz.get("partner_id"),
                               wiz.get("communication") or "", journal_id=wiz.get("journal_id"),
                               date=wiz.get("payment_date"))
            reconcile(env, moves, float(wiz.get("amount") or 0.0))
        return {"name": "Payments", "type": "ir.actions.act_window", "res_model": "account.payment",
                "context": {"create": False}, "view_mode": "form", "res_id": pid}

    def attachments(env, rid, model):
        found = env.store.lookup("ir.attachment", "res_id", rid) or set()
        return sorted(a for a in found if env.rec("ir.attachment", a).get("res_model") == model)

    for model_name in ("account.move", "hr.expense"):
        if "attachment_ids" in reg.models[model_name].fields:
            reg.computed[(model_name, "attachment_ids")] = (
                lambda env, rid, m=model_name: attachments(env, rid, m))
