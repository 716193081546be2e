"""Services for integration configuration: value mappings and bindings."""

from __future__ import annotations

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from controlplane.connections.models import Binding, ExternalSystem, ValueMapping
from controlplane.core.actors import Actor, acting


def mapping_resolve(
    *, system: ExternalSystem, kind: str, external_code: str, on: dt.date, legal_entity=None
) -> str | None:
    """The canonical code that ``external_code`` means in ``system`` on ``on``, or None.

    An entity-specific mapping wins over a global one (``legal_entity`` empty).
    """
    qs = ValueMapping.objects.filter(
        system=system, kind=kind, external_code=external_code, valid_from__lte=on
    ).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
    if legal_entity is not None:
        qs = qs.filter(Q(legal_entity=legal_entity) | Q(legal_entity__isnull=True))
    else:
        qs = qs.filter(legal_entity__isnull=True)
    best = qs.order_by(models.F("legal_entity").desc(nulls_last=True), "-valid_from").first()
    return best.canonical_code if best else None


def binding_for(*, system: ExternalSystem, record: models.Model, external_model: str) -> Binding | None:
    return Binding.objects.filter(
        system=system,
        content_type=ContentType.objects.get_for_model(record),
        object_id=str(record.pk),
        external_model=external_model,
    ).first()


def binding_upsert(
    *,
    actor: Actor,
    system: ExternalSystem,
    record: models.Model,
    external_model: str,
    external_id: str | int,
    external_ref: str = "",
    data: dict | None = None,
) -> Binding:
    """Bind ``record`` to ``external_id`` in ``system``; idempotent.

    Rebinding a record to another remote id updates the binding (and its history shows
    the change); binding a remote id already bound to another record raises IntegrityError
    (the unique constraint decides, not a check-then-act).
    """
    ct = ContentType.objects.get_for_model(record)
    with transaction.atomic(), acting(actor, actor.reason or f"bound to {external_model}#{external_id}"):
        binding, created = Binding.objects.select_for_update().get_or_create(
            system=system, content_type=ct, object_id=str(record.pk), external_model=external_model,
            defaults={"external_id": str(external_id), "external_ref": external_ref,
                      "data": data or {}, "synced_at": timezone.now()},
        )
        if not created:
            changed = (binding.external_id != str(external_id) or binding.external_ref != external_ref
                       or (data is not None and binding.data != data))
            if changed:
                binding.external_id = str(external_id)
                binding.external_ref = external_ref or binding.external_ref
                if data is not None:
                    binding.data = data
                binding.synced_at = timezone.now()
                binding.save()
    return binding
