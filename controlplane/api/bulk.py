"""Bulk master-data upsert from an owning system: rows in natural keys (codes), each row
resolved to ids within the caller's scope and written through ``masterdata_upsert`` (which
runs the system-of-record check). Each row succeeds or fails on its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils import timezone

from controlplane.api.caller import Caller
from controlplane.api.serializers import masterdata as s
from controlplane.core.errors import DomainError
from controlplane.masterdata import models as md
from controlplane.masterdata.services import masterdata_upsert


@dataclass(frozen=True)
class Kind:
    """How one master-data kind is read and upserted through the API."""

    name: str  # masterdata_upsert kind
    model: type[models.Model]
    out: type
    row: type
    per_entity: bool = True
    values: tuple[str, ...] = ()
    # row field → model whose ``code`` (within the row's entity) it names
    refs: dict[str, type[models.Model]] = field(default_factory=dict)


KINDS: dict[str, Kind] = {
    "employees": Kind("employee", md.Employee, s.EmployeeOut, s.EmployeeRow,
                      values=("first_name", "last_name", "email", "active"),
                      refs={"manager": md.Employee, "department": md.Department, "cost_centre": md.CostCentre}),
    "departments": Kind("department", md.Department, s.DepartmentOut, s.DepartmentRow, values=("name", "active"),
                        refs={"parent": md.Department, "head": md.Employee}),
    "cost-centres": Kind("cost_centre", md.CostCentre, s.CostCentreOut, s.CostCentreRow, values=("name", "active"),
                         refs={"parent": md.CostCentre, "owner": md.Employee}),
    "projects": Kind("project", md.Project, s.ProjectOut, s.ProjectRow, values=("name", "active"),
                     refs={"owner": md.Employee}),
    "categories": Kind("expense_category", md.ExpenseCategory, s.CategoryOut, s.CategoryRow, per_entity=False,
                       values=("name", "active")),
    "tax-codes": Kind("tax_code", md.TaxCode, s.TaxCodeOut, s.TaxCodeRow,
                      values=("name", "rate", "price_included", "active")),
    "exchange-rates": Kind("exchange_rate", md.ExchangeRate, s.ExchangeRateOut, s.ExchangeRateRow, per_entity=False,
                           values=("rate", "source")),
}

MAX_ROWS = 1000


def _err(field_name: str, code: str, detail: str) -> dict:
    return {"field": field_name, "code": code, "detail": detail}


def _resolve(kind: Kind, caller: Caller, row: dict) -> tuple[dict, dict, list[dict]]:
    """(lookup, values, errors) for one validated row."""
    errors: list[dict] = []
    lookup: dict = {}
    values = {name: row[name] for name in kind.values if name in row}
    entity = None
    if kind.per_entity:
        entity = md.LegalEntity.objects.filter(code=row["legal_entity"]).first()
        # An entity outside the token reads exactly like one that does not exist.
        if entity is None or not caller.may_touch_entity(entity.pk):
            return {}, {}, [_err("legal_entity", "unknown", "No such legal entity.")]
        lookup = {"legal_entity": entity, "code": row["code"]}
    elif kind.name == "exchange_rate":
        currencies = {c.code: c for c in md.Currency.objects.filter(code__in=[row["from_currency"], row["to_currency"]])}
        for name in ("from_currency", "to_currency"):
            if row[name] not in currencies:
                errors.append(_err(name, "unknown", "No such currency."))
        if errors:
            return {}, {}, errors
        lookup = {"from_currency": currencies[row["from_currency"]], "to_currency": currencies[row["to_currency"]],
                  "date": row["date"]}
    else:
        lookup = {"code": row["code"]}
    for name, model in kind.refs.items():
        code = row.get(name)
        if not code:
            values[f"{name}_id"] = None
            continue
        target = model._default_manager.filter(legal_entity=entity, code=code).values_list("pk", flat=True).first()
        if target is None:
            errors.append(_err(name, "unknown", f"No {model._meta.verbose_name} with code {code} in {entity.code}."))
        values[f"{name}_id"] = target
    return lookup, values, errors


def masterdata_bulk_upsert(*, caller: Caller, kind: Kind, rows: list) -> dict:
    """Upsert each row; returns counts and a result per row (``created``/``updated``/``unchanged``/``error``)."""
    actor = caller.actor.because(f"bulk {kind.name} upsert via API")
    results = []
    for index, raw in enumerate(rows):
        row_ser = kind.row(data=raw)
        if not row_ser.is_valid():
            errs = [_err(f, getattr(m, "code", "invalid"), str(m)) for f, msgs in row_ser.errors.items() for m in msgs]
            results.append({"index": index, "status": "error", "id": None, "errors": errs})
            continue
        lookup, values, errors = _resolve(kind, caller, row_ser.validated_data)
        if errors:
            results.append({"index": index, "status": "error", "id": None, "errors": errors})
            continue
        started = timezone.now()
        try:
            record, created = masterdata_upsert(actor=actor, writer=caller.system, kind=kind.name, lookup=lookup, values=values)
        except DomainError as exc:
            errs = [e.as_dict() for e in exc.errors] or [_err("", exc.code, exc.message)]
            results.append({"index": index, "status": "error", "id": None, "errors": errs})
            continue
        status = "created" if created else ("updated" if record.updated_at >= started else "unchanged")
        results.append({"index": index, "status": status, "id": record.pk, "errors": []})
    counts = {k: sum(1 for r in results if r["status"] == v) for k, v in
              (("created", "created"), ("updated", "updated"), ("unchanged", "unchanged"), ("failed", "error"))}
    return {**counts, "results": results}
