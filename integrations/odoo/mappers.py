"""Pure translation between Odoo records and our dataclasses. No I/O here.

Odoo → us: ``*_from_odoo(record)`` take a dict as ``read``/``search_read``
return it (many2one as ``[id, name]`` or ``False``) and return a dataclass.
Us → Odoo: ``*_vals(...)`` build the value dicts for ``create``; amounts leave
as floats rounded to the cent and dates as ISO strings, because XML-RPC
marshals neither ``Decimal`` nor ``date``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from integrations.odoo.types import (
    REFERENCE_PATTERN,
    ExpensePosting,
    OdooAccount,
    OdooAnalyticAccount,
    OdooCompany,
    OdooCurrency,
    OdooCurrencyRate,
    OdooDepartment,
    OdooEmployee,
    OdooJournal,
    OdooPartner,
    OdooProduct,
    OdooTax,
    PostingLine,
    PostingMode,
    Receipt,
)

XMLID_MODULE = "controlplane"
CENT = Decimal("0.01")
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"

# --------------------------------------------------------------------------- primitives


def m2o_id(value: Any) -> int | None:
    """The id of a many2one value (``[id, name]``, ``id`` or ``False``)."""
    if isinstance(value, (list, tuple)):
        return int(value[0]) if value else None
    if isinstance(value, bool) or value is None:
        return None
    return int(value)


def m2o_name(value: Any) -> str:
    return str(value[1]) if isinstance(value, (list, tuple)) and len(value) > 1 else ""


def ids_of(value: Any) -> tuple[int, ...]:
    """A many2many/one2many value as a tuple of ids."""
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else ()


def text(value: Any) -> str:
    """Odoo's ``False`` for an empty char field as ``""``."""
    return "" if value is False or value is None else str(value)


def decimal(value: Any, places: Decimal | None = None) -> Decimal:
    result = Decimal("0") if value in (False, None) else Decimal(str(value))
    return result.quantize(places, rounding=ROUND_HALF_UP) if places else result


def to_date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def to_datetime(value: Any) -> dt.datetime | None:
    return dt.datetime.strptime(str(value)[:19], ODOO_DATETIME) if value else None


def odoo_datetime(value: dt.datetime) -> str:
    """A (naive UTC) datetime as Odoo writes it in domains."""
    return value.strftime(ODOO_DATETIME)


def money(value: Decimal) -> float:
    return float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


# --------------------------------------------------------------------------- master data


def company_from_odoo(r: Mapping[str, Any]) -> OdooCompany:
    return OdooCompany(
        odoo_id=r["id"], name=text(r.get("name")), currency_id=m2o_id(r.get("currency_id")),
        currency_code=m2o_name(r.get("currency_id")), country_code=m2o_name(r.get("country_id")),
        partner_id=m2o_id(r.get("partner_id")), write_date=to_datetime(r.get("write_date")),
    )


def currency_from_odoo(r: Mapping[str, Any]) -> OdooCurrency:
    rate = r.get("rate")
    return OdooCurrency(
        odoo_id=r["id"], code=text(r.get("name")), name=text(r.get("full_name")),
        symbol=text(r.get("symbol")), active=bool(r.get("active", True)),
        rate=decimal(rate) if rate not in (None, False) else None,
        write_date=to_datetime(r.get("write_date")),
    )


def currency_rate_from_odoo(r: Mapping[str, Any]) -> OdooCurrencyRate:
    rate = r.get("company_rate") or r.get("rate")
    return OdooCurrencyRate(
        odoo_id=r["id"], currency_id=m2o_id(r.get("currency_id")) or 0,
        currency_code=m2o_name(r.get("currency_id")), date=to_date(r.get("name")) or dt.date.min,
        rate=decimal(rate), company_id=m2o_id(r.get("company_id")),
        write_date=to_datetime(r.get("write_date")),
    )


def account_from_odoo(r: Mapping[str, Any]) -> OdooAccount:
    companies = ids_of(r["company_ids"]) if "company_ids" in r else ()
    if not companies and m2o_id(r.get("company_id")):
        companies = (m2o_id(r.get("company_id")),)
    active = bool(r["active"]) if "active" in r else not r.get("deprecated", False)
    return OdooAccount(
        odoo_id=r["id"], code=text(r.get("code")), name=text(r.get("name")),
        account_type=text(r.get("account_type")), company_ids=companies,
        currency_id=m2o_id(r.get("currency_id")), active=active,
        write_date=to_datetime(r.get("write_date")),
    )


def tax_from_odoo(r: Mapping[str, Any]) -> OdooTax:
    return OdooTax(
        odoo_id=r["id"], name=text(r.get("name")), amount=decimal(r.get("amount")),
        amount_type=text(r.get("amount_type")), type_tax_use=text(r.get("type_tax_use")),
        price_include=tax_price_included(r), company_id=m2o_id(r.get("company_id")),
        active=bool(r.get("active", True)), write_date=to_datetime(r.get("write_date")),
    )


def journal_from_odoo(r: Mapping[str, Any]) -> OdooJournal:
    return OdooJournal(
        odoo_id=r["id"], code=text(r.get("code")), name=text(r.get("name")),
        type=text(r.get("type")), company_id=m2o_id(r.get("company_id")),
        currency_id=m2o_id(r.get("currency_id")), active=bool(r.get("active", True)),
        write_date=to_datetime(r.get("write_date")),
    )


def analytic_account_from_odoo(r: Mapping[str, Any]) -> OdooAnalyticAccount:
    return OdooAnalyticAccount(
        odoo_id=r["id"], name=text(r.get("name")), code=text(r.get("code")),
        plan_id=m2o_id(r.get("plan_id")), company_id=m2o_id(r.get("company_id")),
        active=bool(r.get("active", True)), write_date=to_datetime(r.get("write_date")),
    )


def product_from_odoo(r: Mapping[str, Any]) -> OdooProduct:
    return OdooProduct(
        odoo_id=r["id"], name=text(r.get("name")), default_code=text(r.get("default_code")),
        can_be_expensed=bool(r.get("can_be_expensed")), standard_price=decimal(r.get("standard_price")),
        supplier_tax_ids=ids_of(r.get("supplier_taxes_id")),
        expense_account_id=m2o_id(r.get("property_account_expense_id")),
        company_id=m2o_id(r.get("company_id")), active=bool(r.get("active", True)),
        write_date=to_datetime(r.get("write_date")),
    )


def department_from_odoo(r: Mapping[str, Any]) -> OdooDepartment:
    return OdooDepartment(
        odoo_id=r["id"], name=text(r.get("name")), parent_id=m2o_id(r.get("parent_id")),
        manager_id=m2o_id(r.get("manager_id")), company_id=m2o_id(r.get("company_id")),
        active=bool(r.get("active", True)), write_date=to_datetime(r.get("write_date")),
    )


def employee_from_odoo(r: Mapping[str, Any]) -> OdooEmployee:
    partner = r.get("work_contact_id", r.get("address_home_id"))
    return OdooEmployee(
        odoo_id=r["id"], name=text(r.get("name")), work_email=text(r.get("work_email")),
        department_id=m2o_id(r.get("department_id")), manager_id=m2o_id(r.get("parent_id")),
        company_id=m2o_id(r.get("company_id")), user_id=m2o_id(r.get("user_id")),
        partner_id=m2o_id(partner), active=bool(r.get("active", True)),
        write_date=to_datetime(r.get("write_date")),
    )


def partner_from_odoo(r: Mapping[str, Any]) -> OdooPartner:
    return OdooPartner(
        odoo_id=r["id"], name=text(r.get("name")), email=text(r.get("email")),
        vat=text(r.get("vat")), ref=text(r.get("ref")), is_company=bool(r.get("is_company")),
        company_id=m2o_id(r.get("company_id")), active=bool(r.get("active", True)),
        write_date=to_datetime(r.get("write_date")),
    )


# --------------------------------------------------------------------------- taxes


def untaxed_amount(amount: Decimal, taxes: Iterable[OdooTax]) -> Decimal:
    """The net amount whose taxes bring it to the tax-included ``amount``.

    Supports ``percent`` and ``fixed`` taxes, applied side by side (not
    cascading), as Odoo does for a plain purchase tax. Raises ``ValueError``
    for other tax kinds, which need Odoo to compute them (post them as
    price-included taxes instead).
    """
    percent, fixed = Decimal("0"), Decimal("0")
    for tax in taxes:
        if tax.amount_type == "percent":
            percent += tax.amount
        elif tax.amount_type == "fixed":
            fixed += tax.amount
        else:
            raise ValueError(f"cannot derive a net amount for {tax.amount_type} tax {tax.name!r}")
    net = (Decimal(amount) - fixed) / (1 + percent / 100)
    return net.quantize(CENT, rounding=ROUND_HALF_UP)


def tax_price_included(r: Mapping[str, Any]) -> bool:
    """Whether an ``account.tax`` record is price-included.

    17 (and 16/18) store it in ``price_include``. 19 stores the choice in
    ``price_include_override`` (``tax_included``/``tax_excluded``, or unset to
    follow the company's default) and computes the read-only ``price_include``
    from it; the override wins when both were read.
    """
    override = r.get("price_include_override")
    if override in ("tax_included", "tax_excluded"):
        return override == "tax_included"
    return bool(r.get("price_include"))


def bill_price_unit(line: PostingLine, taxes: Mapping[int, OdooTax] | None = None) -> Decimal:
    """The ``price_unit`` of a vendor-bill line whose tax-included total is ``line.amount``.

    When every tax of the line is price-included (or it has none), the gross
    ``amount`` itself: Odoo takes the taxes out of it and the line totals
    exactly ``amount``. Otherwise the untaxed price: ``line.untaxed_amount``
    when given, else derived from the taxes (percent/fixed, not included),
    else ``amount``. An untaxed price rounded to the cent may make Odoo's total
    differ from ``amount`` by a cent (see :func:`bill_total_problem`).
    ``taxes`` maps tax ids to what Odoo says of them; a tax missing from it
    counts as not price-included.
    """
    known = taxes or {}
    line_taxes = [known.get(t) for t in line.tax_ids]
    if all(t is not None and t.price_include for t in line_taxes):
        return Decimal(line.amount)
    if line.untaxed_amount is not None:
        return Decimal(line.untaxed_amount)
    if all(t is not None and not t.price_include for t in line_taxes):
        try:
            return untaxed_amount(Decimal(line.amount), [t for t in line_taxes if t is not None])
        except ValueError:
            pass
    return Decimal(line.amount)


def expected_total(posting: ExpensePosting) -> Decimal:
    """The tax-included total a posting's bill must carry (its currency)."""
    return sum((decimal(line.amount, CENT) for line in posting.lines), Decimal("0"))


def bill_total_problem(posting: ExpensePosting, amount_total: Any) -> str | None:
    """Why a draft bill with ``amount_total`` must not be posted for ``posting``, or ``None``.

    A difference of at most a cent per line comes from Odoo computing a
    non-included tax on an untaxed price rounded to the cent.
    """
    want, got = expected_total(posting), decimal(amount_total, CENT)
    if got == want:
        return None
    if abs(got - want) <= CENT * len(posting.lines):
        return (f"tax rounding: posted total would be {got} instead of {want}; "
                "use a price-included tax")
    return (f"amount mismatch: posted total would be {got} instead of {want}; "
            "check the line's taxes and untaxed amount")


# --------------------------------------------------------------------------- posting


def expense_names(posting: ExpensePosting) -> list[str]:
    """The ``hr.expense`` names that carry ``posting.ref``: the ref itself, or
    ``<ref>/<n>`` (1-based) for each line of a multi-line expense."""
    if len(posting.lines) == 1:
        return [posting.ref]
    return [f"{posting.ref}/{i}" for i in range(1, len(posting.lines) + 1)]


def ref_of_name(name: str) -> str:
    """The reference a name built by :func:`expense_names` belongs to."""
    return name.split("/", 1)[0]


def xmlid_name(name: str) -> str:
    """Our external id name (module ``controlplane``) for a record named ``name``."""
    return name.replace("/", ".")


def validate_posting(posting: ExpensePosting, mode: PostingMode) -> str | None:
    """Why ``posting`` cannot be sent as it is, or ``None``. Checks only what Odoo would
    refuse or silently get wrong, so one bad expense never costs a batch call."""
    if not REFERENCE_PATTERN.match(posting.ref or ""):
        return f"reference {posting.ref!r} must match {REFERENCE_PATTERN.pattern}"
    if not posting.lines:
        return "an expense needs at least one line"
    if posting.payment_mode not in ("own_account", "company_account"):
        return f"unknown payment mode {posting.payment_mode!r}"
    for field_name in ("employee_id", "product_id", "currency_id"):
        if not isinstance(getattr(posting, field_name), int) or getattr(posting, field_name) <= 0:
            return f"{field_name} must be an Odoo id"
    for n, line in enumerate(posting.lines, 1):
        if Decimal(line.amount) <= 0:
            return f"line {n}: amount must be positive"
        total = sum(Decimal(str(p)) for p in line.analytic_distribution.values())
        if line.analytic_distribution and not (0 < total <= 100):
            return f"line {n}: analytic distribution must total between 0 and 100%, not {total}"
        if any(not all(part.strip().isdigit() for part in key.split(","))
               for key in line.analytic_distribution):
            return f"line {n}: analytic distribution keys must be analytic account ids"
    for receipt in posting.receipts:
        try:
            base64.b64decode(receipt.data_b64, validate=True)
        except (binascii.Error, ValueError):
            return f"receipt {receipt.name!r} is not valid base64"
    return None


def expense_vals(posting: ExpensePosting, *, amount_field: str = "total_amount_currency") -> list[dict[str, Any]]:
    """``hr.expense`` values, one dict per line, named by :func:`expense_names`."""
    vals_list = []
    for name, line in zip(expense_names(posting), posting.lines, strict=True):
        vals: dict[str, Any] = {
            "name": name,
            "employee_id": posting.employee_id,
            "product_id": line.product_id or posting.product_id,
            amount_field: money(line.amount),
            "currency_id": posting.currency_id,
            "date": posting.date.isoformat(),
            "payment_mode": posting.payment_mode,
            "tax_ids": [(6, 0, list(line.tax_ids))],
            "description": line.description or posting.description,
        }
        if line.analytic_distribution:
            vals["analytic_distribution"] = _distribution(line.analytic_distribution)
        if line.account_id:
            vals["account_id"] = line.account_id
        if posting.company_id:
            vals["company_id"] = posting.company_id
        vals_list.append(vals)
    return vals_list


def sheet_vals(posting: ExpensePosting, expense_ids: Sequence[int]) -> dict[str, Any]:
    """An ``hr.expense.sheet`` (17/18) holding one posting's expenses, named by its ref:
    the bill Odoo posts from it carries the ref in ``ref``."""
    vals: dict[str, Any] = {
        "name": posting.ref,
        "employee_id": posting.employee_id,
        "payment_mode": posting.payment_mode,
        "expense_line_ids": [(6, 0, list(expense_ids))],
    }
    if posting.company_id:
        vals["company_id"] = posting.company_id
    return vals


def move_vals(posting: ExpensePosting, partner_id: int,
              taxes: Mapping[int, OdooTax] | None = None) -> dict[str, Any]:
    """A vendor bill (``in_invoice``) for ``posting``, ``ref`` = our reference.

    Line prices follow :func:`bill_price_unit` (``taxes``: what Odoo says of
    the lines' taxes; without it every tax counts as not price-included).
    """
    lines = []
    for line in posting.lines:
        price = bill_price_unit(line, taxes)
        line_vals: dict[str, Any] = {
            "name": line.description or posting.description or posting.ref,
            "product_id": line.product_id or posting.product_id,
            "quantity": 1.0,
            "price_unit": money(price),
            "tax_ids": [(6, 0, list(line.tax_ids))],
        }
        if line.analytic_distribution:
            line_vals["analytic_distribution"] = _distribution(line.analytic_distribution)
        if line.account_id:
            line_vals["account_id"] = line.account_id
        lines.append((0, 0, line_vals))
    vals: dict[str, Any] = {
        "move_type": "in_invoice",
        "ref": posting.ref,
        "partner_id": partner_id,
        "currency_id": posting.currency_id,
        "invoice_date": posting.date.isoformat(),
        "date": posting.date.isoformat(),
        "narration": posting.description,
        "invoice_line_ids": lines,
    }
    if posting.journal_id:
        vals["journal_id"] = posting.journal_id
    if posting.company_id:
        vals["company_id"] = posting.company_id
    return vals


def attachment_vals(receipt: Receipt, res_model: str, res_id: int) -> dict[str, Any]:
    return {
        "name": receipt.name,
        "datas": receipt.data_b64,
        "mimetype": receipt.mimetype,
        "res_model": res_model,
        "res_id": res_id,
        "type": "binary",
    }


def xmlid_vals(name: str, model: str, res_id: int) -> dict[str, Any]:
    return {"module": XMLID_MODULE, "name": xmlid_name(name), "model": model,
            "res_id": res_id, "noupdate": True}


def _distribution(distribution: Mapping[str, float]) -> dict[str, float]:
    return {str(k): float(v) for k, v in distribution.items()}
