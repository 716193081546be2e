"""Master-data import from Odoo: idempotent, incremental on ``write_date``, and respectful of
the system-of-record rules.

    results = odoo_import_masterdata(actor=actor, system=odoo)   # {kind: counts}

For each kind (in :data:`IMPORT_ORDER`) the connector reads what changed since the kind's
:class:`~controlplane.odoo.models.ImportCursor`; each record is matched to ours (binding
first, then a natural key: code, email, name) and written through ``masterdata_upsert``
with Odoo as the writer — only the field groups Odoo owns. Every record lands in exactly one
count:

- ``created`` / ``updated`` / ``unchanged``;
- ``bound``: matched, nothing to write, binding recorded (bind-only);
- ``skipped_not_owner``: Odoo holds other values but does not own them (not system of
  record), or would create a record of a kind it does not own;
- ``unmatched``: nothing to attach it to (company without a legal entity, employee without
  a work email, unsupported tax type);
- ``failed``: our validation refused it (message kept in ``errors``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from controlplane.connections.models import Binding, ExternalSystem
from controlplane.connections.ownership import OwnershipViolation, owner_of
from controlplane.connections.services import binding_upsert
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import ValidationFailed
from controlplane.masterdata import models as md
from controlplane.masterdata.services import field_group, masterdata_upsert
from controlplane.odoo.connection import odoo_client
from controlplane.odoo.models import ImportCursor
from integrations.odoo.client import OdooClient
from integrations.odoo.importer import import_master_data

logger = logging.getLogger(__name__)

IMPORT_ORDER = ("companies", "currencies", "currency_rates", "accounts", "taxes", "journals",
                "analytic_accounts", "expense_products", "departments", "employees", "partners")
OUTCOMES = ("created", "updated", "unchanged", "bound", "skipped_not_owner", "unmatched", "failed")


@dataclass
class KindCounts:
    counter: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, outcome: str, error: str = "") -> None:
        self.counter[outcome] += 1
        if error and len(self.errors) < 20:
            self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {k: self.counter.get(k, 0) for k in OUTCOMES}
        data.update({k: v for k, v in self.counter.items() if k not in OUTCOMES})
        if self.errors:
            data["errors"] = list(self.errors)
        return data


class ImportContext:
    """What one import run knows: the system, the actor, and the legal entity of each Odoo company."""

    def __init__(self, *, actor: Actor, system: ExternalSystem, client: OdooClient) -> None:
        self.actor = actor
        self.system = system
        self.client = client
        self._owns: dict[tuple[str, str], bool] = {}
        self.refresh_companies()

    def refresh_companies(self) -> None:
        self.entity_of_company: dict[int, md.LegalEntity] = {}
        self.company_data: dict[int, dict] = {}
        for b in self.bindings("res.company"):
            entity = md.LegalEntity.objects.filter(pk=b.object_id).first()
            if entity is not None:
                self.entity_of_company[int(b.external_id)] = entity
                self.company_data[int(b.external_id)] = b.data

    def bindings(self, odoo_model: str):
        return Binding.objects.filter(system=self.system, external_model=odoo_model)

    def entities_for(self, company_id: int | None) -> list[md.LegalEntity]:
        """The legal entities an Odoo record of ``company_id`` belongs to (all bound ones when shared)."""
        if company_id:
            entity = self.entity_of_company.get(company_id)
            return [entity] if entity else []
        return list(self.entity_of_company.values())

    def owns(self, kind: str, group: str = "") -> bool:
        """Whether this Odoo system is the system of record for ``kind`` / ``group``."""
        key = (kind, group)
        if key not in self._owns:
            rule = owner_of(kind, group)
            self._owns[key] = rule is not None and rule.owner_id == self.system.pk
        return self._owns[key]

    def bound(self, odoo_model: str, odoo_id: int, model: type[models.Model]) -> models.Model | None:
        """Our record bound to ``odoo_model#odoo_id``, if any."""
        b = self.bindings(odoo_model).filter(external_id=str(odoo_id)).first()
        if b is None or b.content_type.model_class() is not model:
            return None
        return model._default_manager.filter(pk=b.object_id).first()

    def bind(self, record: models.Model, odoo_model: str, odoo_id: int, data: dict | None = None) -> bool:
        """Bind ``record``; True when the binding is new or moved. An Odoo id already bound to
        another record stays where it is (the first match wins)."""
        existing = self.bindings(odoo_model).filter(external_id=str(odoo_id)).first()
        if existing is not None and existing.object_id != str(record.pk):
            return False
        try:
            before = existing.external_id if existing else None
            binding_upsert(actor=self.actor, system=self.system, record=record, external_model=odoo_model,
                           external_id=odoo_id, data=data)
        except IntegrityError:
            return False
        return before != str(odoo_id)


def _differs(instance: models.Model, values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in values.items():
        attname = instance._meta.get_field(name).attname
        if getattr(instance, attname) != value:
            out[name] = value
    return out


def sync_record(ctx: ImportContext, counts: KindCounts, *, kind: str, existing: models.Model | None,
                lookup: dict[str, Any], values: dict[str, Any], odoo_model: str, odoo_id: int,
                data: dict | None = None, bind: bool = True) -> models.Model | None:
    """Create, update or bind one record as the rules allow; counts the outcome once.

    ``values`` are keyed by field name or attname (``department_id``) with plain values.
    """
    label = f"{odoo_model}#{odoo_id}"
    try:
        with transaction.atomic():
            if existing is None:
                if not ctx.owns(kind):
                    counts.add("skipped_not_owner")
                    return None
                record, _ = masterdata_upsert(actor=ctx.actor, writer=ctx.system, kind=kind,
                                              lookup=lookup, values=values)
                if bind:
                    ctx.bind(record, odoo_model, odoo_id, data)
                counts.add("created")
                return record
            diff = _differs(existing, values)
            owned = {k: v for k, v in diff.items()
                     if ctx.owns(kind, field_group(kind, existing._meta.get_field(k).attname))}
            if owned:
                masterdata_upsert(actor=ctx.actor, writer=ctx.system, kind=kind,
                                  lookup={"pk": existing.pk}, values=owned)
                existing.refresh_from_db()
            newly_bound = ctx.bind(existing, odoo_model, odoo_id, data) if bind else False
            if owned:
                counts.add("updated")
            elif diff:
                counts.add("skipped_not_owner")
            elif newly_bound:
                counts.add("bound")
            else:
                counts.add("unchanged")
            return existing
    except OwnershipViolation:
        counts.add("skipped_not_owner")
    except ValidationFailed as exc:
        counts.add("failed", f"{label}: {exc}")
        logger.info("odoo import %s refused: %s", label, exc)
    return None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or timezone.is_aware(value):
        return value
    return value.replace(tzinfo=dt.UTC)


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None) if timezone.is_aware(value) else value


def odoo_import_masterdata(*, actor: Actor, system: ExternalSystem, kinds: tuple[str, ...] | None = None,
                           full: bool = False, client: OdooClient | None = None) -> dict[str, dict]:
    """Import master data from ``system`` (``kinds``: a subset of :data:`IMPORT_ORDER`).

    Incremental from each kind's cursor unless ``full``. Returns ``{kind: counts}``. Remote
    failures propagate as the connector's ``RetryableError``/``PermanentError``; a kind's
    cursor only moves after its records are written, so a failed run resumes where it was.
    """
    from controlplane.odoo.import_kinds import HANDLERS, QUERY_DOMAINS

    unknown = set(kinds or ()) - set(IMPORT_ORDER)
    if unknown:
        raise ValueError(f"unknown import kinds {sorted(unknown)}")
    client = client or odoo_client(system)
    ctx = ImportContext(actor=actor, system=system, client=client)
    results: dict[str, dict] = {}
    for kind in IMPORT_ORDER:
        if kinds and kind not in kinds:
            continue
        cursor, _ = ImportCursor.objects.get_or_create(system=system, kind=kind)
        since = None if full else _naive_utc(cursor.watermark)
        batch = import_master_data(client, kind, since=since, domain=QUERY_DOMAINS.get(kind, ()))
        counts = KindCounts()
        HANDLERS[kind](ctx, batch.records, counts)
        if kind == "companies":
            ctx.refresh_companies()
        results[kind] = counts.as_dict()
        with transaction.atomic(), acting(actor, f"odoo import {kind}: {len(batch.records)} read"):
            cursor.watermark = _aware(batch.watermark) or cursor.watermark
            cursor.last_run_at = timezone.now()
            cursor.last_counts = results[kind]
            cursor.save()
    return results
