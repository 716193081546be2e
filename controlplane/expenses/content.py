"""Expense content: parse what a source sends, validate it field by field, compute taxes and
base-currency amounts, write lines and allocations, and snapshot a revision as JSON.

Input shape (``data``; on amendment every key is optional and missing keys keep their value)::

    {"employee": Employee | pk | "code", "legal_entity": LegalEntity | "code" (default: the
     employee's), "purpose": str, "currency": "EUR",
     "lines": [{"date": date | "2025-01-31", "category": "MEALS", "merchant": str,
                "description": str, "amount": "115.00", "currency": "EUR" (default: the
                expense's), "tax_code": "US-VAT" | None (default: the category's),
                "allocations": [{"percent": "60", "project": "APOLLO", "cost_centre": "CC100",
                                 "analytic_account": "us-apollo"}]}]}

Without allocations a line is charged 100% to the employee's cost centre.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.core.money import convert, quantize
from controlplane.expenses.bulk import (
    LineCodes,
    RateBook,
    bulk_delete_with_history,
    bulk_insert_with_history,
    bulk_save_with_history,
)
from controlplane.masterdata import models as md

HUNDRED = Decimal("100")
MATERIAL_LINE_KEYS = ("date", "category", "amount", "currency", "tax_code", "allocations")


@dataclass
class AllocationIn:
    percent: Decimal
    project: md.Project | None = None
    cost_centre: md.CostCentre | None = None
    analytic_account: md.AnalyticAccount | None = None


@dataclass
class LineIn:
    date: dt.date
    category: md.ExpenseCategory
    amount: Decimal
    currency: md.Currency
    merchant: str = ""
    description: str = ""
    tax_code: md.TaxCode | None = None
    allocations: list[AllocationIn] = field(default_factory=list)


@dataclass
class ContentIn:
    employee: md.Employee
    legal_entity: md.LegalEntity
    purpose: str
    currency: md.Currency
    lines: list[LineIn]


class _Problems:
    def __init__(self) -> None:
        self.items: list[FieldProblem] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append(FieldProblem(path, code, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed("The expense is not valid.", self.items)


def _lookup(model, value, path: str, problems: _Problems, *, by: str = "code", related=(), **scope):
    """A master-data record from an instance, a primary key or a code (within ``scope``;
    ``related``: foreign keys to load with it)."""
    if value is None or value == "":
        return None
    if isinstance(value, model):
        return value
    qs = model.objects.select_related(*related).filter(**scope) if related else model.objects.filter(**scope)
    obj = qs.filter(pk=value).first() if isinstance(value, int) else qs.filter(**{by: str(value)}).first()
    if obj is None:
        problems.add(path, "unknown", f"Unknown {model._meta.verbose_name} {value!r}.")
    return obj


def _decimal(value, path: str, problems: _Problems, places: int) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        problems.add(path, "invalid", "Not a decimal number.")
        return None
    if not amount.is_finite():
        problems.add(path, "invalid", "Not a finite number.")
        return None
    if amount != quantize(amount, places):
        problems.add(path, "precision", f"At most {places} decimal places.")
        return None
    return amount


def _date(value, path: str, problems: _Problems) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.add(path, "invalid", "Use an ISO date (YYYY-MM-DD).")
        return None


def _text(value, path: str, problems: _Problems, max_length: int = 255) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > max_length:
        problems.add(path, "too_long", f"At most {max_length} characters.")
    return text[:max_length]


def parse_content(data: dict[str, Any], current: ContentIn | None = None) -> ContentIn:
    """Validate ``data`` (merged over ``current`` when amending) into :class:`ContentIn`.
    Raises :class:`ValidationFailed` listing every field problem at once."""
    problems = _Problems()
    entity = current.legal_entity if current else None
    if "legal_entity" in data:
        entity = _lookup(md.LegalEntity, data["legal_entity"], "legal_entity", problems)
    employee = current.employee if current else None
    if "employee" in data or current is None:
        # Employee codes are unique per entity: look the code up in the entity when known.
        scope = {"legal_entity": entity} if entity is not None else {}
        # (its cost centre is every line's default allocation)
        employee = _lookup(md.Employee, data.get("employee"), "employee", problems, related=("cost_centre",), **scope)
        if employee is None and not problems.items:
            problems.add("employee", "required", "An employee is required.")
    if entity is None and employee is not None:
        entity = employee.legal_entity
    if employee is not None and entity is not None and employee.legal_entity_id != entity.pk:
        problems.add("employee", "wrong_entity", "The employee belongs to another legal entity.")
    purpose = _text(data["purpose"], "purpose", problems) if "purpose" in data else (current.purpose if current else "")
    currency = current.currency if current else None
    if "currency" in data or current is None:
        currency = _lookup(md.Currency, data.get("currency"), "currency", problems)
        if currency is None and "currency" not in [p.field for p in problems.items]:
            problems.add("currency", "required", "A currency is required.")
    problems.raise_if_any()
    if "lines" in data or current is None:
        lines = _parse_lines(data.get("lines") or [], entity, employee, currency, problems)
    else:
        lines = current.lines
        if any(line.currency.pk != currency.pk for line in lines):
            problems.add("currency", "lines_required", "Send the lines with their amounts when changing the currency.")
    problems.raise_if_any()
    return ContentIn(employee=employee, legal_entity=entity, purpose=purpose, currency=currency, lines=lines)


def _parse_lines(raw_lines, entity, employee, currency, problems: _Problems) -> list[LineIn]:
    if not isinstance(raw_lines, list) or not raw_lines:
        problems.add("lines", "required", "At least one line is required.")
        return []
    places = currency.minor_units
    codes = LineCodes(raw_lines, entity, currency)
    lines = []
    for i, raw in enumerate(raw_lines):
        p = f"lines.{i}"
        date = _date(raw.get("date"), f"{p}.date", problems)
        category = codes.find(codes.categories, raw.get("category"), f"{p}.category", problems)
        if raw.get("category") in (None, ""):
            problems.add(f"{p}.category", "required", "A category is required.")
        line_currency = codes.find(codes.currencies, raw.get("currency") or currency, f"{p}.currency", problems)
        if line_currency is not None and line_currency.pk != currency.pk:
            problems.add(f"{p}.currency", "currency_mismatch", f"Lines are in the expense currency ({currency.code}).")
        amount = _decimal(raw.get("amount"), f"{p}.amount", problems, places)
        if amount is not None and amount <= 0:
            problems.add(f"{p}.amount", "not_positive", "The amount must be greater than zero.")
        tax = None
        if raw.get("tax_code"):
            tax = codes.tax_code(raw["tax_code"], f"{p}.tax_code", problems)
        elif category is not None and "tax_code" not in raw:
            mapping = codes.accounting(category)
            tax = mapping.default_tax if mapping else None
        allocations = []
        for j, rawa in enumerate(raw.get("allocations") or []):
            ap = f"{p}.allocations.{j}"
            percent = _decimal(rawa.get("percent"), f"{ap}.percent", problems, 4)
            if percent is not None and not (0 < percent <= HUNDRED):
                problems.add(f"{ap}.percent", "out_of_range", "Between 0 (exclusive) and 100.")
            allocations.append(AllocationIn(
                percent=percent or Decimal(0),
                project=codes.find(codes.projects, rawa.get("project"), f"{ap}.project", problems),
                cost_centre=codes.find(codes.cost_centres, rawa.get("cost_centre"), f"{ap}.cost_centre", problems),
                analytic_account=codes.find(codes.analytic_accounts, rawa.get("analytic_account"),
                                            f"{ap}.analytic_account", problems),
            ))
        if not allocations:
            allocations = [AllocationIn(percent=HUNDRED, cost_centre=employee.cost_centre if employee else None)]
        lines.append(LineIn(
            date=date, category=category, amount=amount, currency=line_currency,
            merchant=_text(raw.get("merchant"), f"{p}.merchant", problems),
            description=_text(raw.get("description"), f"{p}.description", problems),
            tax_code=tax, allocations=allocations,
        ))
    return lines


def tax_split(amount: Decimal, tax: md.TaxCode | None, places: int) -> tuple[Decimal, Decimal, Decimal]:
    """``(net, tax, gross)`` as Odoo computes them: a price-included 15% tax splits 115 into
    100 + 15 (net rounded, tax the remainder, so net + tax == gross exactly)."""
    if tax is None or not tax.rate:
        return amount, Decimal(0).quantize(amount), amount
    factor = tax.rate / HUNDRED
    if tax.price_included:
        net = quantize(amount / (1 + factor), places)
        return net, amount - net, amount
    tax_amount = quantize(amount * factor, places)
    return amount, tax_amount, amount + tax_amount


def content_from_expense(expense) -> ContentIn:
    """The stored content of ``expense`` as :class:`ContentIn` (the base for amendments)."""
    lines = []
    allocations = ("allocations__project", "allocations__cost_centre", "allocations__analytic_account")
    for line in expense.lines.select_related("category", "currency", "tax_code").prefetch_related(*allocations):
        lines.append(LineIn(
            date=line.date, category=line.category, amount=line.amount, currency=line.currency,
            merchant=line.merchant, description=line.description, tax_code=line.tax_code,
            allocations=[AllocationIn(a.percent, a.project, a.cost_centre, a.analytic_account)
                         for a in line.allocations.all()],
        ))
    return ContentIn(employee=expense.employee, legal_entity=expense.legal_entity, purpose=expense.purpose,
                     currency=expense.currency, lines=lines)


def snapshot(content: ContentIn) -> dict[str, Any]:
    """JSON of the content (codes and strings), comparable across revisions."""

    def code(obj):
        return obj.code if obj is not None else None

    return {
        "employee": code(content.employee),
        "legal_entity": code(content.legal_entity),
        "purpose": content.purpose,
        "currency": code(content.currency),
        "lines": [
            {
                "date": line.date.isoformat(), "category": code(line.category), "merchant": line.merchant,
                "description": line.description, "amount": str(line.amount), "currency": code(line.currency),
                "tax_code": f"{line.tax_code.legal_entity_id}:{line.tax_code.code}" if line.tax_code else None,
                "allocations": [
                    {"percent": str(quantize(a.percent, 4)), "project": code(a.project),
                     "cost_centre": code(a.cost_centre), "analytic_account": code(a.analytic_account)}
                    for a in line.allocations
                ],
            }
            for line in content.lines
        ],
    }


def material_view(snap: dict[str, Any]) -> dict[str, Any]:
    """What approvals depend on: employee, entity, currency and each line's date, category,
    amount, currency, tax code and allocation (not purpose, merchant or description)."""
    return {
        "employee": snap["employee"], "legal_entity": snap["legal_entity"], "currency": snap["currency"],
        "lines": [{k: line[k] for k in MATERIAL_LINE_KEYS} for line in snap["lines"]],
    }


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    keys = sorted(k for k in after if before.get(k) != after.get(k))
    return keys


def write_content(expense, content: ContentIn, *, rates: RateBook | None = None) -> None:
    """Write header fields, lines (matched by position, so receipts stay linked), allocations,
    rates and totals onto ``expense`` (saved by the caller, once). ``rates``: a rate book
    shared by several writes (bulk ingest), else a fresh one."""
    from controlplane.expenses.models import ExpenseLine

    expense.employee = content.employee
    expense.legal_entity = content.legal_entity
    expense.purpose = content.purpose
    expense.currency = content.currency
    base = content.legal_entity.base_currency
    existing = {line.position: line for line in expense.lines.prefetch_related("allocations")} if expense.pk else {}
    rates = rates if rates is not None else RateBook()
    totals = {"total": Decimal(0), "tax": Decimal(0), "base": Decimal(0)}
    base_known = True
    places = content.currency.minor_units
    rows = []
    for position, line_in in enumerate(content.lines):
        row = existing.pop(position, None) or ExpenseLine(expense=expense, position=position)
        net, tax, gross = tax_split(line_in.amount, line_in.tax_code, places)
        row.date, row.category, row.currency = line_in.date, line_in.category, line_in.currency
        row.merchant, row.description, row.amount = line_in.merchant, line_in.description, line_in.amount
        row.tax_code, row.net_amount, row.tax_amount, row.total = line_in.tax_code, net, tax, gross
        quote = rates.quote(line_in.currency.code, base.code, line_in.date)
        if quote is None:
            row.exchange_rate = row.exchange_rate_date = row.amount_base = None
            row.exchange_rate_source = ""
            base_known = False
        else:
            row.exchange_rate, row.exchange_rate_date, row.exchange_rate_source = quote.rate, quote.date, quote.source
            row.amount_base = convert(gross, quote.rate, base.minor_units)
            totals["base"] += row.amount_base
        totals["total"] += gross
        totals["tax"] += tax
        rows.append((row, line_in))
    expense.total_amount = totals["total"]
    expense.total_tax = totals["tax"]
    expense.total_amount_base = totals["base"] if base_known else None
    if expense.pk is None:
        expense._pending_lines = rows  # written by save_pending_lines once the expense has a key
        return
    _save_lines(expense, rows, existing)


def save_pending_lines(expense) -> None:
    """Write the lines prepared by :func:`write_content` for a new expense (after its first save)."""
    rows = getattr(expense, "_pending_lines", [])
    _save_lines(expense, rows, {})
    expense._pending_lines = []


def _save_lines(expense, rows, leftovers) -> None:
    """Delete ``leftovers``, save the kept lines and insert the new ones (each with its history
    row), and replace the allocations that differ — in a fixed number of queries, whatever the
    number of lines and allocations."""
    from controlplane.expenses.models import ExpenseAllocation, ExpenseLine

    if leftovers:
        # A queryset delete still sends each row's delete signal (history), with fewer queries.
        ExpenseLine.objects.filter(pk__in=[row.pk for row in leftovers.values()]).delete()
    new_rows, old_rows = [], []
    for row, _ in rows:
        row.expense = expense
        (new_rows if row.pk is None else old_rows).append(row)
    bulk_save_with_history(ExpenseLine, old_rows)
    bulk_insert_with_history(ExpenseLine, new_rows)
    new_ids = {id(row) for row in new_rows}
    stale, fresh = [], []
    for row, line_in in rows:
        wanted = [(a.percent, _pk(a.project), _pk(a.cost_centre), _pk(a.analytic_account))
                  for a in line_in.allocations]
        # Existing lines come with their allocations prefetched; new lines have none yet.
        current = [] if id(row) in new_ids else list(row.allocations.all())
        have = [(a.percent, a.project_id, a.cost_centre_id, a.analytic_account_id) for a in current]
        if wanted == have:
            continue
        stale.extend(current)
        fresh.extend(
            ExpenseAllocation(line=row, percent=a.percent, project=a.project, cost_centre=a.cost_centre,
                              analytic_account=a.analytic_account)
            for a in line_in.allocations
        )
    bulk_delete_with_history(ExpenseAllocation, stale)
    bulk_insert_with_history(ExpenseAllocation, fresh)


def _pk(obj):
    return obj.pk if obj is not None else None
