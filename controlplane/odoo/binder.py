"""``DjangoBinder``: the connector's ``Binder`` protocol on ``connections.Binding``.

Two kinds of keys reach a binder:

- **record keys** — for master data (``hr.employee``, ``res.company``, ...) ``local_id`` is the
  primary key of our record (see ``RECORD_MODELS``); bindings are found by record;
- **reference keys** — for posted documents (``hr.expense``, ``hr.expense.sheet``,
  ``account.move``) ``local_id`` is a posting reference (``CP-…-R1``) or an expense line's name
  (``CP-…-R1/2``); bindings are found by ``external_ref``. The record a reference belongs to
  (the expense, or one of its lines) is announced with :meth:`DjangoBinder.expect` before
  posting; a reference nobody announced is not bound (the posting ledger still holds the ids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction

from controlplane.connections.models import Binding, ExternalSystem
from controlplane.connections.services import binding_upsert
from controlplane.core.actors import Actor
from controlplane.masterdata import models as md

logger = logging.getLogger(__name__)

#: Odoo model → our model, for record keys.
RECORD_MODELS: dict[str, type[models.Model]] = {
    "hr.employee": md.Employee,
    "hr.department": md.Department,
    "res.company": md.LegalEntity,
    "res.currency": md.Currency,
    "res.currency.rate": md.ExchangeRate,
    "account.account": md.GLAccount,
    "account.tax": md.TaxCode,
    "account.analytic.account": md.AnalyticAccount,
    "product.product": md.ExpenseCategory,
    "res.partner": md.Vendor,
}


class DjangoBinder:
    """Binder for one Odoo system; writes go through ``binding_upsert`` as ``actor``."""

    def __init__(self, *, actor: Actor, system: ExternalSystem,
                 records: Mapping[str, models.Model] | None = None, deferred: bool = False) -> None:
        """``deferred``: keep binds in memory until :meth:`flush` (one transaction for a whole
        batch instead of one per record). A bind lost in a crash costs nothing but a lookup:
        the connector finds the record again by external id or reference."""
        self.actor = actor
        self.system = system
        self.deferred = deferred
        self._expected: dict[str, models.Model] = dict(records or {})
        self._pending: dict[tuple[str, str], int] = {}

    def expect(self, local_id: str, record: models.Model) -> None:
        """Announce that the reference ``local_id`` belongs to ``record``."""
        self._expected[local_id] = record

    # ------------------------------------------------------------------ Binder protocol

    def odoo_ids(self, model: str, local_ids: Iterable[str]) -> dict[str, int]:
        wanted = [str(i) for i in local_ids]
        if not wanted:
            return {}
        pending = {i: self._pending[(model, i)] for i in wanted if (model, i) in self._pending}
        return {**self._stored_ids(model, [i for i in wanted if i not in pending]), **pending}

    def _stored_ids(self, model: str, wanted: list[str]) -> dict[str, int]:
        if not wanted:
            return {}
        qs = Binding.objects.filter(system=self.system, external_model=model)
        if model in RECORD_MODELS:
            ct = ContentType.objects.get_for_model(RECORD_MODELS[model])
            rows = qs.filter(content_type=ct, object_id__in=wanted).values_list("object_id", "external_id")
        else:
            rows = qs.filter(external_ref__in=wanted).values_list("external_ref", "external_id")
        return {key: int(external_id) for key, external_id in rows}

    def local_id(self, model: str, odoo_id: int) -> str | None:
        for (m, local), oid in self._pending.items():
            if m == model and oid == odoo_id:
                return local
        binding = Binding.objects.filter(system=self.system, external_model=model,
                                         external_id=str(odoo_id)).first()
        if binding is None:
            return None
        return binding.object_id if model in RECORD_MODELS else (binding.external_ref or None)

    def bind(self, model: str, local_id: str, odoo_id: int) -> None:
        if self.deferred:
            self._pending[(model, str(local_id))] = int(odoo_id)
            return
        self._write(model, str(local_id), int(odoo_id))

    def flush(self, local_ids: Iterable[str] | None = None) -> None:
        """Write the deferred binds (those whose key is in ``local_ids``, or all) in one transaction."""
        keep = None if local_ids is None else {str(i) for i in local_ids}
        todo = [(k, v) for k, v in self._pending.items() if keep is None or k[1] in keep]
        with transaction.atomic():
            for (model, local_id), odoo_id in todo:
                self._write(model, local_id, odoo_id)
        for key, _ in todo:
            self._pending.pop(key, None)

    def _write(self, model: str, local_id: str, odoo_id: int) -> None:
        record = self._record(model, str(local_id))
        if record is None:
            logger.debug("no record announced for %s %s; not bound", model, local_id)
            return
        ref = "" if model in RECORD_MODELS else str(local_id)
        try:
            with transaction.atomic():
                binding_upsert(actor=self.actor, system=self.system, record=record, external_model=model,
                               external_id=odoo_id, external_ref=ref)
        except IntegrityError:
            # The Odoo id is already bound to another of our records: keep the first binding
            # (reconciliation reports the conflict) rather than steal it.
            logger.warning("%s#%s is already bound to another record; %s not bound", model, odoo_id, local_id)

    def _record(self, model: str, local_id: str) -> models.Model | None:
        if local_id in self._expected:
            return self._expected[local_id]
        if model in RECORD_MODELS:
            return RECORD_MODELS[model]._default_manager.filter(pk=local_id).first()
        return None
