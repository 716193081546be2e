"""Journal entries built from client values: ``account.move.create`` with line commands.

What a client sends (``move_type``, ``partner_id``, ``invoice_line_ids`` /
``line_ids`` as ``(0, 0, vals)`` commands...) becomes what Odoo stores:

- invoices and receipts (``in_invoice``, ``in_receipt``, ``in_refund``,
  ``out_*``): one product line per command (account from the product's expense
  account, else the journal's default account; taxes from the product when
  ``tax_ids`` is not given), one tax line per tax, and the payable (receivable)
  counterpart line; ``price_unit`` is untaxed unless the tax is
  ``price_include``; amounts rounded per line, converted to the company's
  currency with the dated rate (50 EUR -> 54.35 USD at 0.92);
- ``entry``: the lines as given (``debit``/``credit``, or ``balance`` /
  ``amount_currency``), which must balance;
- the header: ``state`` draft, ``name`` '/', ``journal_id`` the company's first
  journal of the type the move needs (purchase for bills), ``payment_state``
  not_paid, totals, signed totals and residual as Odoo computes them.

Writing line commands or amounts on a draft invoice recomputes its tax and
payable lines. ``action_post`` (in ``accounting``) names and posts it.
Multi-company is approximated: the move's company is the journal's, accounts
and journals are looked up by ``company_id`` (``company_ids`` in 19), rates are
the global rate table (see docs/odoo-sandbox.md).
"""

from __future__ import annotations

import math
from typing import Any

from .errors import UserError
from .orm import Env, today
from .registry import Registry
from .seed import IDS

INVOICE_TYPES = ("in_invoice", "in_receipt", "in_refund", "out_invoice", "out_receipt", "out_refund")
PURCHASE_TYPES = ("in_invoice", "in_receipt", "in_refund")
JOURNAL_TYPE = {"entry": "general", **{t: "purchase" for t in PURCHASE_TYPES},
                **{t: "sale" for t in ("out_invoice", "out_receipt", "out_refund")}}
LINE_COMMAND_FIELDS = ("invoice_line_ids", "line_ids")
RECOMPUTE_KEYS = {"invoice_line_ids", "line_ids", "currency_id", "date", "invoice_date",
                  "partner_id", "move_type"}


def cents(value: Any) -> float:
    """Round half-up to the cent like Odoo's ``float_round`` (which nudges the value by an
    epsilon first, so 8.70 * 0.15 = 1.30499999... rounds to 1.31)."""
    normalized = float(value or 0.0) * 100.0
    if not normalized:
        return 0.0
    sign = math.copysign(1.0, normalized)
    normalized += sign * 2 ** (math.log(abs(normalized), 2) - 52)
    return round(sign * math.floor(abs(normalized) + 0.5) / 100.0, 2)


def direction(move_type: str) -> int:
    """+1 when product lines are debits (bills, customer refunds), -1 otherwise."""
    return 1 if move_type in ("in_invoice", "in_receipt", "out_refund") else -1


def _int(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def company_of(env: Env, vals: dict) -> int:
    journal = env.rec("account.journal", _int(vals.get("journal_id")))
    return _int(vals.get("company_id")) or journal.get("company_id") or IDS["company"]


def company_currency(env: Env, company_id: int) -> int:
    return env.rec("res.company", company_id).get("currency_id") or IDS["usd"]


def rate_to_company(env: Env, currency_id: int, company_id: int, date: str) -> float:
    """Units of ``currency_id`` per unit of the company's currency on ``date``."""
    from .accounting import currency_rate

    return currency_rate(env, currency_id, date) / currency_rate(
        env, company_currency(env, company_id), date)


def _company_domain(env: Env, company_id: int) -> tuple:
    fields = env.models["account.account"].fields
    return ("company_ids", "in", [company_id]) if "company_ids" in fields and \
        "company_id" not in fields else ("company_id", "=", company_id)


def company_account(env: Env, company_id: int, account_type: str, fallback: int) -> int:
    """The company's first account of ``account_type`` (by code); ``fallback`` for company 1."""
    if company_id == IDS["company"] and env.store.get("account.account", fallback):
        return fallback
    ids = env.search("account.account", [_company_domain(env, company_id),
                                         ("account_type", "=", account_type)], limit=1)
    if ids:
        return ids[0]
    return fallback


def default_journal(env: Env, move_type: str, company_id: int) -> int:
    """The company's first journal of the type the move needs (Odoo's _search_default_journal)."""
    jtype = JOURNAL_TYPE.get(move_type, "general")
    ids = env.search("account.journal", [("type", "=", jtype), ("company_id", "=", company_id)],
                     limit=1)
    if ids:
        return ids[0]
    company = env.display_name("res.company", company_id) or str(company_id)
    raise UserError(f"No journal could be found in company {company} for any of those types: "
                    f"{jtype}")


def _line_commands(value: Any) -> list[dict]:
    """The values of the ``(0, 0, vals)`` commands (other commands make no sense on create)."""
    out = []
    for cmd in value or []:
        if isinstance(cmd, (list, tuple)) and cmd and cmd[0] == 0:
            out.append(dict(cmd[2] or {}))
    return out


def create_from_values(env: Env, vals: dict) -> int:
    """``account.move.create`` of one client dict; returns the new id."""
    vals = dict(vals or {})
    for key, value in env.context.items():
        if key.startswith("default_") and key[8:] in env.models["account.move"].fields:
            vals.setdefault(key[8:], value)
    commands: list[dict] = []
    for fname in LINE_COMMAND_FIELDS:
        commands += _line_commands(vals.pop(fname, None))
    move_type = vals.get("move_type") or "entry"
    vals["move_type"] = move_type
    company_id = company_of(env, vals)
    if not vals.get("journal_id"):
        vals["journal_id"] = default_journal(env, move_type, company_id)
        company_id = company_of(env, vals)
    vals.setdefault("company_id", company_id)
    journal = env.rec("account.journal", _int(vals["journal_id"]))
    vals.setdefault("currency_id", journal.get("currency_id") or company_currency(env, company_id))
    if move_type in INVOICE_TYPES:
        vals.setdefault("date", vals.get("invoice_date") or today())
    else:
        vals.setdefault("date", today())
    vals.update(state="draft", payment_state="not_paid")
    vals.setdefault("name", "/")
    vals.setdefault("auto_post", "no")
    mid = env.create("account.move", [vals])[0]
    for line in commands:
        line["move_id"] = mid
        if move_type in INVOICE_TYPES:
            line.setdefault("display_type", "product")
        env.create("account.move.line", [line])
    recompute(env, mid)
    return mid


def _fill_product_line(env: Env, move: dict, lid: int) -> None:
    """Defaults Odoo computes on a product line: account, taxes, quantity, price, name."""
    line = env.rec("account.move.line", lid)
    product = env.rec("product.product", _int(line.get("product_id")))
    purchase = move.get("move_type") in PURCHASE_TYPES
    vals: dict[str, Any] = {}
    if not line.get("account_id"):
        journal = env.rec("account.journal", move.get("journal_id") or 0)
        company = move.get("company_id") or IDS["company"]
        fallback = IDS["acc_expense"] if purchase else IDS["acc_income"]
        vals["account_id"] = (product.get("property_account_expense_id" if purchase else
                                          "property_account_income_id")
                              or journal.get("default_account_id")
                              or company_account(env, company, "expense" if purchase else "income",
                                                 fallback))
    if "tax_ids" not in line and product:
        vals["tax_ids"] = list(product.get("supplier_taxes_id" if purchase else "taxes_id") or [])
    if not line.get("quantity") and "quantity" not in line:
        vals["quantity"] = 1.0
    if "price_unit" not in line and product:
        vals["price_unit"] = float(product.get("standard_price") or 0.0)
    if not line.get("name") and product:
        vals["name"] = env.display_name("product.product", _int(line.get("product_id")))
    if vals:
        env.write("account.move.line", [lid], vals, check=False)


def compute_taxes(env: Env, price_unit: float, quantity: float,
                  tax_ids: list[int]) -> tuple[float, list[tuple[int, float]]]:
    """(untaxed subtotal, [(tax id, amount)]) of one line, rounded per line like Odoo.

    Price-included taxes are taken out of ``price_unit * quantity``; the others
    are added on top of the untaxed base. Percent and fixed taxes only.
    """
    gross = float(price_unit or 0.0) * float(quantity or 0.0)
    taxes = [(t, env.rec("account.tax", t)) for t in tax_ids]
    incl_pct = sum(float(t.get("amount") or 0.0) for _, t in taxes
                   if t.get("price_include") and t.get("amount_type", "percent") == "percent")
    incl_fixed = sum(float(t.get("amount") or 0.0) * float(quantity or 0.0) for _, t in taxes
                     if t.get("price_include") and t.get("amount_type") == "fixed")
    base = cents((gross - incl_fixed) / (1 + incl_pct / 100.0))
    out = []
    for tid, tax in taxes:
        amount = float(tax.get("amount") or 0.0)
        if tax.get("amount_type") == "fixed":
            value = amount * float(quantity or 0.0)
        else:
            value = base * amount / 100.0
        out.append((tid, cents(value)))
    if incl_pct or incl_fixed:
        # the included part is exactly what is left once the base is rounded
        incl = [(i, v) for i, (tid, v) in enumerate(out) if taxes[i][1].get("price_include")]
        rest = cents(gross - base - sum(v for _, v in incl))
        if incl and rest:
            i, v = incl[-1]
            out[i] = (out[i][0], cents(v + rest))
    return base, out


def _conv(env: Env, amount: float, rate: float) -> float:
    return cents(amount / rate) if rate else cents(amount)


def recompute(env: Env, mid: int) -> None:
    """Rebuild the derived lines and the totals of a draft move."""
    move = env.rec("account.move", mid)
    move_type = move.get("move_type") or "entry"
    company_id = move.get("company_id") or IDS["company"]
    comp_cur = company_currency(env, company_id)
    currency = move.get("currency_id") or comp_cur
    date = move.get("date") or today()
    rate = rate_to_company(env, currency, company_id, date)
    line_ids = env.raw_value("account.move", mid, "line_ids")
    common = {"currency_id": currency, "company_id": company_id, "company_currency_id": comp_cur,
              "date": date, "journal_id": move.get("journal_id"), "parent_state": "draft",
              "move_type": move_type}
    common = {k: v for k, v in common.items() if k in env.models["account.move.line"].fields}
    if move_type not in INVOICE_TYPES:
        _recompute_entry(env, mid, move, line_ids, rate, common)
        return
    sign = direction(move_type)
    partner = move.get("partner_id") or False
    derived = [lid for lid in line_ids if env.rec("account.move.line", lid).get("display_type")
               in ("tax", "payment_term")]
    for lid in derived:
        env.store.delete("account.move.line", lid)
    products = [lid for lid in line_ids if lid not in derived and env.rec(
        "account.move.line", lid).get("display_type", "product") == "product"]
    untaxed = tax_total = 0.0
    untaxed_co = tax_co = 0.0
    tax_groups: dict[tuple[int, int], list[float]] = {}
    for lid in products:
        _fill_product_line(env, move, lid)
        line = env.rec("account.move.line", lid)
        tax_ids = list(line.get("tax_ids") or [])
        base, taxes = compute_taxes(env, line.get("price_unit"), line.get("quantity"), tax_ids)
        balance = _conv(env, base, rate)
        env.write("account.move.line", [lid], {
            **common, "partner_id": partner, "amount_currency": sign * base,
            "balance": sign * balance, "debit": balance if sign > 0 else 0.0,
            "credit": balance if sign < 0 else 0.0, "price_subtotal": base,
            "price_total": cents(base + sum(a for _, a in taxes)), "tax_ids": [(6, 0, tax_ids)],
        }, check=False)
        untaxed, untaxed_co = cents(untaxed + base), cents(untaxed_co + balance)
        for tid, amount in taxes:
            account = env.rec("account.tax", tid).get("sandbox_account_id") or line.get("account_id")
            bucket = tax_groups.setdefault((tid, account), [0.0, 0.0])
            bucket[0] = cents(bucket[0] + amount)
            bucket[1] = cents(bucket[1] + base)
    for (tid, account), (amount, base) in tax_groups.items():
        if not amount:
            continue
        balance = _conv(env, amount, rate)
        env.create("account.move.line", [{
            **common, "move_id": mid, "account_id": account, "name": env.rec(
                "account.tax", tid).get("name") or "", "partner_id": partner,
            "tax_line_id": tid, "display_type": "tax", "amount_currency": sign * amount,
            "balance": sign * balance, "debit": balance if sign > 0 else 0.0,
            "credit": balance if sign < 0 else 0.0, "tax_base_amount": _conv(env, base, rate),
            "quantity": 0.0, "price_unit": 0.0, "price_subtotal": 0.0, "price_total": 0.0}])
        tax_total, tax_co = cents(tax_total + amount), cents(tax_co + balance)
    total, total_co = cents(untaxed + tax_total), cents(untaxed_co + tax_co)
    purchase = move_type in PURCHASE_TYPES
    counter_type = "liability_payable" if purchase else "asset_receivable"
    partner_rec = env.rec("res.partner", partner or 0)
    counter_account = (partner_rec.get("property_account_payable_id" if purchase else
                                       "property_account_receivable_id")
                       or company_account(env, company_id, counter_type,
                                          IDS["acc_payable"] if purchase else IDS["acc_receivable"]))
    if products:
        env.create("account.move.line", [{
            **common, "move_id": mid, "account_id": counter_account, "name": "",
            "partner_id": partner, "display_type": "payment_term",
            "amount_currency": -sign * total, "balance": -sign * total_co,
            "debit": total_co if sign < 0 else 0.0, "credit": total_co if sign > 0 else 0.0,
            "date_maturity": move.get("invoice_date_due") or move.get("invoice_date") or date,
            "quantity": 0.0, "price_unit": 0.0, "price_subtotal": 0.0, "price_total": 0.0}])
    # Odoo: the signed totals are negative on bills and customer refunds
    out_sign = -sign
    totals = {"amount_untaxed": untaxed, "amount_tax": tax_total, "amount_total": total,
              "amount_residual": total,
              "amount_untaxed_signed": out_sign * untaxed_co, "amount_tax_signed": out_sign * tax_co,
              "amount_total_signed": out_sign * total_co,
              "amount_total_in_currency_signed": out_sign * total,
              "amount_residual_signed": out_sign * total_co,
              "amount_untaxed_in_currency_signed": out_sign * untaxed,
              "company_currency_id": comp_cur}
    fields = env.models["account.move"].fields
    env.write("account.move", [mid], {k: v for k, v in totals.items() if k in fields}, check=False)


def _recompute_entry(env: Env, mid: int, move: dict, line_ids: list[int], rate: float,
                     common: dict) -> None:
    """Miscellaneous entries: lines as given, converted; they must balance."""
    debit_total = credit_total = 0.0
    for lid in line_ids:
        line = env.rec("account.move.line", lid)
        if "debit" in line or "credit" in line:
            balance = cents(float(line.get("debit") or 0.0) - float(line.get("credit") or 0.0))
            amount_currency = line.get("amount_currency")
            if amount_currency is None or amount_currency is False:
                amount_currency = balance if rate == 1.0 else cents(balance * rate)
        elif line.get("amount_currency") not in (None, False):
            amount_currency = float(line["amount_currency"])
            balance = _conv(env, amount_currency, rate)
        else:
            balance = cents(line.get("balance") or 0.0)
            amount_currency = balance if rate == 1.0 else cents(balance * rate)
        vals = {**common, "partner_id": line.get("partner_id") or move.get("partner_id") or False,
                "balance": balance, "amount_currency": amount_currency,
                "debit": balance if balance > 0 else 0.0, "credit": -balance if balance < 0 else 0.0,
                "display_type": line.get("display_type") or "product"}
        if not line.get("account_id"):
            journal = env.rec("account.journal", move.get("journal_id") or 0)
            vals["account_id"] = journal.get("default_account_id") or IDS["acc_expense"]
        env.write("account.move.line", [lid], vals, check=False)
        debit_total = cents(debit_total + vals["debit"])
        credit_total = cents(credit_total + vals["credit"])
    if debit_total != credit_total:
        raise UserError(
            "The entry is not balanced.\nThe total of debits equals "
            f"{debit_total:.2f} and the total of credits equals {credit_total:.2f}.")
    fields = env.models["account.move"].fields
    totals = {"amount_untaxed": 0.0, "amount_tax": 0.0, "amount_total": debit_total,
              "amount_residual": 0.0, "amount_total_signed": debit_total,
              "amount_total_in_currency_signed": debit_total, "amount_residual_signed": 0.0,
              "amount_untaxed_signed": 0.0, "amount_tax_signed": 0.0,
              "company_currency_id": common.get("company_currency_id")}
    env.write("account.move", [mid], {k: v for k, v in totals.items() if k in fields}, check=False)


def check_postable(env: Env, mid: int) -> None:
    """What Odoo refuses at ``action_post`` (texts from Odoo 17's account.move)."""
    move = env.rec("account.move", mid)
    if not env.raw_value("account.move", mid, "line_ids"):
        raise UserError("You need to add a line before posting.")
    if move.get("move_type") in INVOICE_TYPES and not move.get("partner_id"):
        raise UserError("The field 'Vendor' is required, please complete it to validate the "
                        "Vendor Bill." if move.get("move_type") in PURCHASE_TYPES else
                        "The field 'Customer' is required, please complete it to validate the "
                        "Customer Invoice.")
    if move.get("move_type") in PURCHASE_TYPES and not move.get("invoice_date"):
        raise UserError("The Bill/Refund date is required to validate this document.")


def register(reg: Registry) -> None:
    """``account.move.create``/``write`` with line commands; ``invoice_line_ids`` reads."""

    @reg.method("account.move", name="create", api_model=True)
    def create(env, model, vals_list):
        if isinstance(vals_list, dict):
            return create_from_values(env, vals_list)
        return [create_from_values(env, vals) for vals in vals_list]

    @reg.method("account.move", name="write")
    def write(env, model, ids, vals):
        vals = dict(vals or {})
        for mid in ids:
            state = env.rec(model, mid).get("state")
            if state == "posted" and (set(vals) & RECOMPUTE_KEYS or "journal_id" in vals):
                raise UserError("You cannot modify a posted entry of this journal.")
        commands = {f: vals.pop(f) for f in LINE_COMMAND_FIELDS if f in vals}
        if vals:
            env.write(model, ids, vals)
        for mid in ids:
            move = env.rec(model, mid)
            for value in commands.values():
                for cmd in value or []:
                    if cmd and cmd[0] == 0:
                        line = dict(cmd[2] or {}, move_id=mid)
                        if move.get("move_type") in INVOICE_TYPES:
                            line.setdefault("display_type", "product")
                        env.create("account.move.line", [line])
                    elif cmd and cmd[0] == 1:
                        env.write("account.move.line", [cmd[1]], cmd[2] or {})
                    elif cmd and cmd[0] in (2, 3):
                        env.unlink("account.move.line", [cmd[1]])
                    elif cmd and cmd[0] == 5:
                        lines = env.raw_value(model, mid, "line_ids")
                        env.unlink("account.move.line", lines)
            if (commands or set(vals) & RECOMPUTE_KEYS) and move.get("state") == "draft":
                recompute(env, mid)
        return True

    def invoice_lines(env, rid):
        return [lid for lid in env.raw_value("account.move", rid, "line_ids")
                if env.rec("account.move.line", lid).get("display_type", "product")
                in ("product", "line_section", "line_note")]

    reg.computed[("account.move", "invoice_line_ids")] = invoice_lines

    def company_defaults(env, vals):
        # Odoo creates the company's partner with it
        if not vals.get("partner_id") and vals.get("name"):
            vals["partner_id"] = env.create("res.partner", [{
                "name": vals["name"], "is_company": True}])[0]
        return vals

    reg.defaults["res.company"] = company_defaults
