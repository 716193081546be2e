"""Bulk ingest: many expenses from one source system in one call, set at a time.

New references are validated and written together — every master-data code of every item
resolved once per kind, expenses, lines, allocations and revisions inserted in one statement
per table, each with its creation history row — so the number of queries does not grow with
the number of expenses or lines (exchange rates: once per currency pair and date). The rows
are the ones N calls of ``expense_upsert_from_source`` would write: same fields, same
revision 1 snapshot, history naming the same actor, system, reason and correlation id (a
creation records no event, there as here).

Items asking ``submit`` are written the same way, consecutive ones together in one
transaction, and each is then submitted by the single service's body (``submit_locked``);
a refused submission leaves nothing of its item behind (the transaction is redone without
it). What cannot be done together goes item by item, in request order, through the per-item
services: a reference that already exists or repeats within the request (an amendment).
Consecutive new items are written before each of those and before a change between
submitted and not, so every item sees what the items before it left, as in N sequential
calls. Reads every item repeats (routing policy, category accounting, subscriptions, the
posting target) are made once per call (``core.memo``).

Each item ends in its own :class:`ItemResult`; a problem with one never stops the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from controlplane.core.actors import Actor, acting
from controlplane.core.errors import DomainError, FieldProblem, NotAllowed, ValidationFailed
from controlplane.core.memo import request_memo
from controlplane.expenses.amend import expense_amend, expense_upsert_from_source
from controlplane.expenses.bulk import CodeIndex, RateBook, is_blank
from controlplane.expenses.content import ContentIn, parse_content, snapshot, write_content
from controlplane.expenses.ingest_sql import insert_with_history
from controlplane.expenses.models import Expense, ExpenseAllocation, ExpenseLine, ExpenseRevision
from controlplane.expenses.states import EDITABLE
from controlplane.masterdata import models as md
from controlplane.masterdata.selectors import RATE_PLACES, RateQuote, exchange_rate_max_age_days

CREATED, UPDATED, ERROR = "created", "updated", "error"
# Refused submissions after which a run of create-and-submit items goes item by item.
MAX_GROUP_REFUSALS = 3


@dataclass
class ItemResult:
    """The outcome of one item: ``created`` / ``updated`` with its expense, or ``error``."""

    status: str
    expense: Expense | None = None
    error: DomainError | None = None


@dataclass
class _Item:
    index: int
    source_id: str
    data: dict
    submit: bool
    entity: md.LegalEntity | None = None
    content: ContentIn | None = None
    expense: Expense | None = None
    reason: str = ""


@dataclass
class _Scoped:
    """Records of one entity-scoped kind by (legal entity id, code), first per code as
    ``filter(legal_entity=..., code=...).first()`` would answer."""

    found: dict = field(default_factory=dict)

    @classmethod
    def load(cls, model, wanted: set[tuple[int, str]], *related: str) -> _Scoped:
        index = cls()
        if not wanted:
            return index
        qs = model.objects.filter(legal_entity_id__in={e for e, _ in wanted},
                                  code__in={c for _, c in wanted}).select_related(*related)
        for obj in qs if qs.ordered else qs.order_by("pk"):
            index.found.setdefault((obj.legal_entity_id, obj.code), obj)
        return index

    def get(self, entity: md.LegalEntity, value: Any):
        return self.found.get((entity.pk, value)) if isinstance(value, str) else None


def expenses_create_many(*, actor: Actor, source_system, items: list[dict],
                         entity_ids: Collection[int] | None = None,
                         visible: Callable[[], QuerySet[Expense]] | None = None) -> list[ItemResult]:
    """Create or amend the expenses ``source_system`` sends, one :class:`ItemResult` per item
    (same order). An item is the content as ``expense_upsert_from_source`` takes it (codes,
    ``legal_entity`` required) plus ``source_id`` and an optional ``submit``.

    Scope, as the single-expense API applies it: an entity outside ``entity_ids`` (None: all)
    is refused as unknown (``legal_entity``); an existing reference outside ``visible()``
    (None: all) as unknown (``source_id``); a source system other than the actor's
    (``not_system_of_record``)."""
    results: list[ItemResult | None] = [None] * len(items)
    if actor.system is not None and getattr(actor.system, "pk", None) != source_system.pk:
        refusal = NotAllowed(f"{actor.system_code} may not write expenses of {source_system.code}.",
                             code="not_system_of_record")
        return [ItemResult(ERROR, error=refusal) for _ in items]
    todo = [_Item(i, str(raw["source_id"]), {k: v for k, v in raw.items() if k not in ("source_id", "submit")},
                  bool(raw.get("submit", False))) for i, raw in enumerate(items)]
    entities = {e.code: e for e in md.LegalEntity.objects.select_related("base_currency").filter(
        code__in={str(item.data.get("legal_entity")) for item in todo})}
    for item in todo:
        entity = entities.get(str(item.data.get("legal_entity")))
        if entity is None or (entity_ids is not None and entity.pk not in entity_ids):
            # Out of scope reads as unknown, as for a single expense.
            results[item.index] = ItemResult(ERROR, error=ValidationFailed(
                errors=[FieldProblem("legal_entity", "unknown", "Unknown legal entity.")]))
        item.entity = entity
    todo = [item for item in todo if results[item.index] is None]
    existing = dict(Expense.objects.filter(source_system=source_system, source_id__in={i.source_id for i in todo})
                    .values_list("source_id", "pk"))
    seen: set[str] = set()
    new, per_item = [], []
    for item in todo:
        (per_item if item.source_id in existing or item.source_id in seen else new).append(item)
        seen.add(item.source_id)
    for item, error in zip(new, _parse_all(new), strict=True):
        if error is not None:
            results[item.index] = ItemResult(ERROR, error=error)
    amend_ids = {item.index for item in per_item}
    rates = _rate_book([item for item in new if item.content is not None])
    # Runs of consecutive new items, all submitted or all not, written together.
    run: list[_Item] = []

    def flush() -> None:
        if run and run[0].submit:
            _create_and_submit_many(actor, source_system, run, results, rates)
        else:
            _flush(actor, source_system, run, results, rates)
        run.clear()

    with request_memo():  # routing policies, category accounting, subscriptions… read once
        for item in sorted((i for i in todo if results[i.index] is None), key=lambda i: i.index):
            if item.index not in amend_ids:
                if run and run[0].submit != item.submit:
                    flush()
                run.append(item)
                continue
            flush()
            try:
                results[item.index] = _upsert_one(actor, source_system, item, visible)
            except DomainError as exc:
                results[item.index] = ItemResult(ERROR, error=exc)
        flush()
    return results  # type: ignore[return-value]


def _parse_all(items: list[_Item]) -> list[ValidationFailed | None]:
    """Validate every item's content (``item.content``), resolving all codes in a fixed
    number of queries; an item naming a code that is not found is parsed on its own, which
    reports its problems exactly as a single create would."""
    if not items:
        return []
    lines = [raw for item in items for raw in _raw_lines(item)]

    def wanted(values: Iterable[tuple[Any, Any]]) -> set[tuple[int, str]]:
        return {(entity.pk, value) for entity, value in values if entity is not None and isinstance(value, str)}

    def per_item(key: str, source: Callable[[_Item], Iterable[dict]]):
        return wanted((item.entity, raw.get(key)) for item in items for raw in source(item))

    def item_allocations(item: _Item) -> list[dict]:
        return [a for raw in _raw_lines(item) for a in (raw.get("allocations") or []) if isinstance(a, dict)]

    employees = _Scoped.load(md.Employee, wanted((i.entity, i.data.get("employee")) for i in items), "cost_centre")
    projects = _Scoped.load(md.Project, per_item("project", item_allocations))
    cost_centres = _Scoped.load(md.CostCentre, per_item("cost_centre", item_allocations))
    analytic = _Scoped.load(md.AnalyticAccount, per_item("analytic_account", item_allocations))
    own_taxes = _Scoped.load(md.TaxCode, per_item("tax_code", _raw_lines))
    currencies = CodeIndex(md.Currency, [i.data.get("currency") for i in items] + [r.get("currency") for r in lines])
    categories = CodeIndex(md.ExpenseCategory, [raw.get("category") for raw in lines])
    taxes = CodeIndex(md.TaxCode, [raw.get("tax_code") for raw in lines if raw.get("tax_code")])
    defaulted = {(item.entity.pk, cat.pk) for item in items for raw in _raw_lines(item) if "tax_code" not in raw
                 for cat in [categories.get(raw.get("category"))] if cat is not None}
    accounting: dict = {}
    if defaulted:
        qs = md.CategoryAccounting.objects.filter(legal_entity_id__in={e for e, _ in defaulted},
                                                  category_id__in={c for _, c in defaulted})
        for mapping in (qs if qs.ordered else qs.order_by("pk")).select_related("default_tax"):
            accounting.setdefault((mapping.legal_entity_id, mapping.category_id), mapping)

    def resolve(item: _Item) -> dict | None:
        """The item's data with every code replaced by its record (None if one is not found)."""
        entity, data = item.entity, dict(item.data)
        data["legal_entity"] = entity
        data["employee"] = employees.get(entity, data.get("employee"))
        data["currency"] = currencies.get(data.get("currency")) if isinstance(data.get("currency"), str) else None
        if data["employee"] is None or data["currency"] is None or not _raw_lines(item) \
                or len(_raw_lines(item)) != len(data.get("lines") or []):
            return None
        out_lines = []
        for raw in data["lines"]:
            line = dict(raw)
            category = categories.get(raw.get("category")) if isinstance(raw.get("category"), str) else None
            if category is None:
                return None
            line["category"] = category
            if not is_blank(raw.get("currency")):
                line["currency"] = currencies.get(raw["currency"]) if isinstance(raw["currency"], str) else None
                if line["currency"] is None:
                    return None
            if raw.get("tax_code"):
                value = raw["tax_code"]
                # Known in the entity first, else anywhere (the policy check reports another entity's).
                line["tax_code"] = (own_taxes.get(entity, value) or taxes.get(value)) if isinstance(value, str) else None
                if line["tax_code"] is None:
                    return None
            elif "tax_code" not in raw:
                mapping = accounting.get((entity.pk, category.pk))
                line["tax_code"] = mapping.default_tax if mapping else None
            shares = []
            for rawa in raw.get("allocations") or []:
                if not isinstance(rawa, dict):
                    return None
                share = dict(rawa)
                for key, index in (("project", projects), ("cost_centre", cost_centres),
                                   ("analytic_account", analytic)):
                    if not is_blank(rawa.get(key)):
                        share[key] = index.get(entity, rawa[key])
                        if share[key] is None:
                            return None
                shares.append(share)
            if "allocations" in raw:
                line["allocations"] = shares
            out_lines.append(line)
        data["lines"] = out_lines
        return data

    errors: list[ValidationFailed | None] = []
    for item in items:
        resolved = resolve(item)
        try:
            item.content = parse_content(resolved if resolved is not None else item.data)
            errors.append(None)
        except ValidationFailed as exc:
            errors.append(exc)
    return errors


class _KnownRates(RateBook):
    """A rate book told its quotes in advance (any other key is looked up as usual)."""

    def __init__(self, quotes: dict) -> None:
        super().__init__()
        self._quotes.update(quotes)


def _rate_book(items: list[_Item]) -> RateBook:
    """The rates every line of ``items`` needs to its entity's base currency, from one query:
    for each (currency, base, date) what ``exchange_rate_for`` answers — the latest rate of
    the window in either direction, the direct one winning a tie, the other inverted."""
    keys = {(line.currency.code, item.content.legal_entity.base_currency.code, line.date)
            for item in items for line in item.content.lines}
    keys = {key for key in keys if key[0] != key[1]}
    if not keys:
        return RateBook()
    age = dt.timedelta(days=exchange_rate_max_age_days())
    codes = {code for key in keys for code in key[:2]}
    rows = (md.ExchangeRate.objects.filter(from_currency__code__in=codes, to_currency__code__in=codes,
                                           date__gte=min(k[2] for k in keys) - age, date__lte=max(k[2] for k in keys))
            .order_by("-date").values_list("from_currency__code", "to_currency__code", "date", "rate", "source"))
    published: dict[tuple[str, str], list] = {}
    for src, dst, date, rate, source in rows:
        published.setdefault((src, dst), []).append((date, rate, source))

    def latest(src: str, dst: str, on: dt.date):
        return next((row for row in published.get((src, dst), []) if on - age <= row[0] <= on), None)

    quotes = {}
    for src, dst, on in keys:
        direct, reverse = latest(src, dst, on), latest(dst, src, on)
        if direct is not None and (reverse is None or direct[0] >= reverse[0]):
            quotes[(src, dst, on)] = RateQuote(rate=direct[1], date=direct[0], source=direct[2])
        elif reverse is not None:
            quotes[(src, dst, on)] = RateQuote(rate=(Decimal(1) / reverse[1]).quantize(RATE_PLACES), date=reverse[0],
                                               source=f"{reverse[2]} (inverse)", inverse=True)
        else:
            quotes[(src, dst, on)] = None
    return _KnownRates(quotes)


def _raw_lines(item: _Item) -> list[dict]:
    raw = item.data.get("lines")
    return [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def _flush(actor: Actor, source_system, items: list[_Item], results: list, rates: RateBook) -> None:
    """Write the new ``items`` together; when one of their references was created meanwhile
    (another request), fall back to the per-item path for each, as a single create does."""
    if not items:
        return
    try:
        with transaction.atomic():
            _insert(actor, source_system, items, rates)
    except IntegrityError:
        for item in items:
            try:
                expense, created = expense_upsert_from_source(actor=actor, source_system=source_system,
                                                              source_id=item.source_id, data=item.data)
                results[item.index] = ItemResult(CREATED if created else UPDATED, expense)
            except DomainError as exc:
                results[item.index] = ItemResult(ERROR, error=exc)
        return
    for item in items:
        results[item.index] = ItemResult(CREATED, item.expense)


def _insert(actor: Actor, source_system, items: list[_Item], rates: RateBook) -> None:
    """Insert the expenses, lines, allocations and revisions of ``items`` (parsed), one
    statement per table and one per history table. Each row's history reason is its item's,
    as ``expense_upsert_from_source`` would write it."""
    expenses, lines, allocations, revisions = [], [], [], []
    label = actor.label()[:255]
    for item in items:
        item.reason = actor.reason or f"created from {source_system.code}:{item.source_id}"
        expense = Expense(source_system=source_system, source_id=item.source_id)
        write_content(expense, item.content, rates=rates)
        item.expense = expense
        expenses.append(expense)
    with acting(actor):
        insert_with_history(Expense, expenses, [item.reason for item in items])
        pending, line_reasons, allocation_reasons = [], [], []
        for item in items:
            for row, line_in in item.expense._pending_lines:
                row.expense = item.expense
                lines.append(row)
                line_reasons.append(item.reason)
                pending.append((row, line_in, item.reason))
            item.expense._pending_lines = []
            revisions.append(ExpenseRevision(expense=item.expense, revision=1, snapshot=snapshot(item.content),
                                             material=True, actor_label=label, reason="created"))
        insert_with_history(ExpenseLine, lines, line_reasons)
        for row, line_in, reason in pending:
            for a in line_in.allocations:
                allocations.append(ExpenseAllocation(line=row, percent=a.percent, project=a.project,
                                                     cost_centre=a.cost_centre, analytic_account=a.analytic_account))
                allocation_reasons.append(reason)
        insert_with_history(ExpenseAllocation, allocations, allocation_reasons)
        insert_with_history(ExpenseRevision, revisions, [item.reason for item in items])


def _create_and_submit_many(actor: Actor, source_system, items: list[_Item], results: list,
                            rates: RateBook) -> None:
    """Create and submit new ``items`` in one transaction: inserted together (as ``_flush``),
    then each submitted on its just-inserted row (no other transaction can see it yet) by
    ``submit_locked`` — every check, history row, approval step and event of a single
    submission. A refused submission rolls the whole transaction back, so nothing of it
    remains (as for a single create-and-submit): that item is answered with its error and
    the others are written again without it; after :data:`MAX_GROUP_REFUSALS` refusals the
    rest go one transaction each. A reference created meanwhile elsewhere: item by item."""
    from controlplane.expenses.services import submit_locked

    todo = list(items)
    refusals = 0
    while todo and refusals < MAX_GROUP_REFUSALS:
        current: _Item | None = None
        try:
            with transaction.atomic():
                _insert(actor, source_system, todo, rates)
                # Each item is submitted as if the items after it did not exist yet (as in
                # sequential calls): the duplicate checks do not see them.
                unseen = {item.expense.pk for item in todo}
                for current in todo:
                    unseen.discard(current.expense.pk)
                    with acting(actor, actor.reason or "submitted"):
                        submit_locked(actor=actor, expense=current.expense, unseen=unseen)
        except DomainError as exc:
            if current is None:
                raise
            results[current.index] = ItemResult(ERROR, error=exc)
            todo = [item for item in todo if item is not current]
            refusals += 1
            continue
        except IntegrityError:
            break
        for item in todo:
            results[item.index] = ItemResult(CREATED, item.expense)
        return
    for item in todo:
        try:
            results[item.index] = _create_and_submit_one(actor, source_system, item, rates)
        except DomainError as exc:
            results[item.index] = ItemResult(ERROR, error=exc)


def _create_and_submit_one(actor: Actor, source_system, item: _Item, rates: RateBook) -> ItemResult:
    """Create ``item`` and submit it in one transaction: a refused submission creates nothing."""
    from controlplane.expenses.services import expense_submit

    try:
        with transaction.atomic():
            _insert(actor, source_system, [item], rates)
            expense = expense_submit(actor=actor, expense_id=item.expense.pk)
    except IntegrityError:
        # Created meanwhile by another request: the per-item path amends it.
        return _upsert_one(actor, source_system, item, None)
    return ItemResult(CREATED, expense)


def _upsert_one(actor: Actor, source_system, item: _Item, visible) -> ItemResult:
    """What the single-expense API does for one item, in one transaction: amend a known
    reference (outside ``visible()`` it reads as unknown) or create a new one, then submit
    when asked and still editable."""
    from controlplane.expenses.services import expense_submit

    pk = Expense.objects.filter(source_system=source_system, source_id=item.source_id).values_list(
        "pk", flat=True).first()
    if pk is not None and visible is not None and not visible().filter(pk=pk).exists():
        raise ValidationFailed(errors=[FieldProblem("source_id", "unknown", "Unknown expense.")])
    with transaction.atomic():
        if pk is not None:
            expense, created = expense_amend(actor=actor, expense_id=pk, data=item.data, writer=source_system), False
        else:
            expense, created = expense_upsert_from_source(actor=actor, source_system=source_system,
                                                          source_id=item.source_id, data=item.data)
        if item.submit and expense.approval_state in EDITABLE:
            expense = expense_submit(actor=actor, expense_id=expense.pk)
    return ItemResult(CREATED if created else UPDATED, expense)
