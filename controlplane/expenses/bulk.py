"""Set-at-a-time helpers for writing expense content: the number of queries an expense costs
does not grow with its lines.

- :class:`CodeIndex` resolves every code of one kind (category, currency, project, ...) in one
  query, then answers like a per-value ``.filter(...).first()`` would.
- :class:`RateBook` asks for an exchange rate once per (from, to, date).
- :func:`bulk_insert_with_history`, :func:`bulk_save_with_history` and
  :func:`bulk_delete_with_history` write rows in one statement and their history rows in
  another, naming the current actor (user, system, reason) and correlation id as the per-row
  history signal would — simple-history's bulk helpers send no signal, so we stamp them here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from controlplane.core.actors import current_actor
from controlplane.core.correlation import get_correlation_id
from controlplane.masterdata import models as md
from controlplane.masterdata.selectors import RateNotFound, RateQuote, exchange_rate_for


def is_blank(value: Any) -> bool:
    return value is None or value == ""


class CodeIndex:
    """Records of ``model`` (within ``scope``) for a set of values given as instances, primary
    keys (ints) or codes, fetched in one query. ``get(value)`` returns what
    ``model.objects.filter(**scope).filter(pk=value | code=str(value)).first()`` would."""

    def __init__(self, model, values: Iterable[Any], *, by: str = "code", **scope) -> None:
        self.model, self.by = model, by
        self.by_pk: dict[Any, Any] = {}
        self.by_code: dict[str, Any] = {}
        pks, codes = set(), set()
        for value in values:
            if is_blank(value) or isinstance(value, model):
                continue
            if isinstance(value, int):
                pks.add(value)
            else:
                codes.add(str(value))
        if not pks and not codes:
            return
        qs = model.objects.filter(**scope).filter(Q(pk__in=pks) | Q(**{f"{by}__in": codes}))
        # ``.first()`` takes the model's ordering, else the primary key: keep the first per code.
        for obj in qs if qs.ordered else qs.order_by("pk"):
            self.by_pk.setdefault(obj.pk, obj)
            self.by_code.setdefault(str(getattr(obj, by)), obj)

    def get(self, value: Any) -> Any:
        if is_blank(value):
            return None
        if isinstance(value, self.model):
            return value
        if isinstance(value, int):
            return self.by_pk.get(value)
        return self.by_code.get(str(value))


class LineCodes:
    """Every master-data record the lines name, fetched once per kind (not once per line);
    answers as ``content._lookup`` per value would, adding the same problems."""

    def __init__(self, raw_lines: list, entity, currency) -> None:
        allocations = [rawa for raw in raw_lines for rawa in (raw.get("allocations") or [])]
        scope = {"legal_entity": entity}
        self.categories = CodeIndex(md.ExpenseCategory, [raw.get("category") for raw in raw_lines])
        self.currencies = CodeIndex(md.Currency, [raw.get("currency") or currency for raw in raw_lines])
        self.projects = CodeIndex(md.Project, [a.get("project") for a in allocations], **scope)
        self.cost_centres = CodeIndex(md.CostCentre, [a.get("cost_centre") for a in allocations], **scope)
        self.analytic_accounts = CodeIndex(md.AnalyticAccount, [a.get("analytic_account") for a in allocations],
                                           **scope)
        taxes = [raw["tax_code"] for raw in raw_lines if raw.get("tax_code")]
        self.taxes = CodeIndex(md.TaxCode, taxes)
        self.own_taxes = CodeIndex(md.TaxCode, [t for t in taxes if not isinstance(t, (md.TaxCode, int))], **scope)
        defaulted = [self.categories.get(raw.get("category")) for raw in raw_lines
                     if not raw.get("tax_code") and "tax_code" not in raw]
        defaulted = [c for c in defaulted if c is not None]
        self._accounting: dict = {}
        if defaulted:
            qs = md.CategoryAccounting.objects.filter(category__in=defaulted, legal_entity=entity)
            for mapping in (qs if qs.ordered else qs.order_by("pk")).select_related("default_tax"):
                self._accounting.setdefault(mapping.category_id, mapping)

    @staticmethod
    def find(index: CodeIndex, value, path: str, problems: Any):
        obj = index.get(value)
        if obj is None and not is_blank(value):
            problems.add(path, "unknown", f"Unknown {index.model._meta.verbose_name} {value!r}.")
        return obj

    def tax_code(self, value, path: str, problems: Any):
        # A code unknown in the entity but known elsewhere is kept: the policy check
        # "tax code of another entity" reports it on submission, with its field.
        if isinstance(value, (md.TaxCode, int)):
            return self.find(self.taxes, value, path, problems)
        return self.own_taxes.get(value) or self.find(self.taxes, value, path, problems)

    def accounting(self, category):
        return self._accounting.get(category.pk)


class RateBook:
    """Exchange rates memoised per (from, to, date) for one write; ``None`` when there is none."""

    def __init__(self) -> None:
        self._quotes: dict[tuple[str, str, dt.date], RateQuote | None] = {}

    def quote(self, from_code: str, to_code: str, on: dt.date) -> RateQuote | None:
        key = (from_code, to_code, on)
        if key not in self._quotes:
            try:
                self._quotes[key] = exchange_rate_for(from_currency=from_code, to_currency=to_code, on=on)
            except RateNotFound:
                self._quotes[key] = None
        return self._quotes[key]


def _history_defaults() -> dict[str, Any]:
    """What the per-row history signal would stamp: the current actor's user, system and
    reason, and the correlation id."""
    actor = current_actor()
    user = actor.user if actor is not None and getattr(actor.user, "pk", None) else None
    attrs = {"history_correlation_id": get_correlation_id()}
    if actor is not None:
        attrs["history_system"] = actor.system_code
    reason = (actor.reason if actor is not None else None) or None
    return {"default_user": user, "default_change_reason": reason, "custom_historical_attrs": attrs}


def bulk_insert_with_history(model, objs: list) -> list:
    """Insert ``objs`` in bulk with one creation history row each, stamped like the per-row
    signal would. Returns the objects with their primary keys."""
    if not objs:
        return []
    return bulk_create_with_history(objs, model, **_history_defaults())


def bulk_save_with_history(model, objs: list) -> None:
    """Save every field of the already stored ``objs`` in one statement (``updated_at`` set to
    now, as ``save()`` would) with one update history row each, stamped like the per-row signal."""
    if not objs:
        return
    now = timezone.now()
    for obj in objs:
        obj.updated_at = now
    fields = [f.name for f in model._meta.concrete_fields if not f.primary_key and f.name != "created_at"]
    bulk_update_with_history(objs, model, fields, **_history_defaults())


def bulk_delete_with_history(model, objs: list) -> None:
    """Delete ``objs`` in one statement with one deletion history row each, stamped like the
    per-row signal would. Only for models nothing else points at (no cascade, no signals)."""
    if not objs:
        return
    historical = model.history.model
    defaults = _history_defaults()
    now = timezone.now()
    tracked = historical.tracked_fields
    rows = [
        historical(
            history_date=now, history_type="-",
            history_user=defaults["default_user"] or historical.get_default_history_user(obj),
            history_change_reason=defaults["default_change_reason"],
            **{f.attname: getattr(obj, f.attname) for f in tracked},
            **defaults["custom_historical_attrs"],
        )
        for obj in objs
    ]
    historical.objects.bulk_create(rows)
    model.objects.filter(pk__in=[obj.pk for obj in objs])._raw_delete(model.objects.db)
