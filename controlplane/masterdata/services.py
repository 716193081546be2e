"""Writes to master data. Every write names its actor; writes from an external system go
through the system-of-record check for the field groups they actually change."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from controlplane.connections.models import ExternalSystem
from controlplane.connections.ownership import ownership_check
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.masterdata import models as md

#: object kind → model
KINDS: dict[str, type[models.Model]] = {
    "legal_entity": md.LegalEntity,
    "currency": md.Currency,
    "exchange_rate": md.ExchangeRate,
    "employee": md.Employee,
    "department": md.Department,
    "cost_centre": md.CostCentre,
    "project": md.Project,
    "gl_account": md.GLAccount,
    "analytic_account": md.AnalyticAccount,
    "tax_code": md.TaxCode,
    "expense_category": md.ExpenseCategory,
    "category_accounting": md.CategoryAccounting,
    "vendor": md.Vendor,
}

#: Field groups that can be owned by different systems (the rest of a kind's fields is "").
FIELD_GROUPS: dict[str, dict[str, str]] = {
    "employee": {
        "first_name": "identity", "last_name": "identity", "email": "identity", "code": "identity",
        "manager_id": "organisation", "department_id": "organisation", "cost_centre_id": "organisation",
        "legal_entity_id": "organisation", "active": "status",
    },
}


def field_group(kind: str, attname: str) -> str:
    return FIELD_GROUPS.get(kind, {}).get(attname, "")


def masterdata_upsert(
    *,
    actor: Actor,
    writer: ExternalSystem | None,
    kind: str,
    lookup: dict[str, Any],
    values: dict[str, Any],
) -> tuple[models.Model, bool]:
    """Create or update the ``kind`` record found by ``lookup`` with ``values``.

    Only fields whose value changes are written and checked against the system-of-record
    rules. Returns ``(record, created)``. Raises ``OwnershipViolation`` (nothing written)
    or ``ValidationFailed`` with field-level problems.
    """
    model = KINDS[kind]
    instance = model._default_manager.filter(**lookup).first()
    created = instance is None
    if created:
        instance = model(**lookup)
    changed = []
    for name, value in values.items():
        field = model._meta.get_field(name)
        attname = field.attname
        if created or getattr(instance, attname) != value:
            setattr(instance, attname, value)
            changed.append(attname)
    if not created and not changed:
        return instance, False
    groups = {field_group(kind, a) for a in (changed or [""])}
    if created:
        groups.add("")
    ownership_check(
        actor=actor, writer=writer, object_kind=kind, field_groups=sorted(groups),
        payload={"lookup": _jsonable(lookup), "values": _jsonable(values)},
        legal_entity=getattr(instance, "legal_entity", None) if hasattr(instance, "legal_entity_id") else None,
    )
    try:
        instance.full_clean(validate_unique=True)
    except ValidationError as exc:
        raise ValidationFailed(errors=[
            FieldProblem(f, "invalid", m) for f, msgs in exc.message_dict.items() for m in msgs
        ]) from exc
    reason = actor.reason or f"{kind} {'created' if created else 'updated'}" + (
        f" by {writer.code}" if writer else ""
    )
    with transaction.atomic(), acting(actor, reason):
        if created:
            instance.save()
        else:
            instance.save(update_fields=[*changed, "updated_at"])
    return instance, created


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v)) for k, v in data.items()}
