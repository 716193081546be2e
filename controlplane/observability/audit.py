"""The audit trail as rows: every historical row of every audited model in a period, with
who (user, system), why (reason), the correlation id and the fields it changed.

The changed fields are ``history.diff_against`` the *previous historical row of the same
object* (the highest ``history_id`` below this one). Encrypted fields are never read into
the diff; neither are bookkeeping timestamps (``auto_now``), which change on every save.
Rows are read in keyset-paginated chunks (three queries per chunk), so an export of a year
streams in constant memory.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db.models import Max, Model
from django.forms.models import model_to_dict

from controlplane.core.crypto import EncryptedTextField

CHUNK = 1000
CHANGE_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
COLUMNS = ("timestamp", "model", "object_id", "change_type", "user", "system", "reason", "correlation_id",
           "changes", "history_id")


@dataclass(frozen=True)
class AuditedModel:
    model: type[Model]
    history: type[Model]

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def object_field(self) -> str:
        return self.model._meta.pk.attname

    @property
    def view_permission(self) -> str:
        return f"{self.history._meta.app_label}.view_{self.history._meta.model_name}"

    def diff_fields(self) -> set[str]:
        """Tracked, editable, not encrypted, not a bookkeeping timestamp."""
        return {
            f.name for f in self.history.tracked_fields
            if f.editable and not isinstance(f, EncryptedTextField)
            and not getattr(f, "auto_now", False) and not getattr(f, "auto_now_add", False)
        }


def audited_models() -> list[AuditedModel]:
    """Every model with django-simple-history, ordered by label."""
    found = []
    for model in apps.get_models():
        attr = getattr(model._meta, "simple_history_manager_attribute", None)
        if attr:
            found.append(AuditedModel(model, getattr(model, attr).model))
    return sorted(found, key=lambda a: a.label)


def visible_models(user) -> list[AuditedModel]:
    """The audited models whose history ``user`` may view."""
    return [a for a in audited_models() if user.has_perm(a.view_permission)]


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, dict)):
        return value
    return str(value)


def _changes(audited: AuditedModel, record, previous, fields: set[str]) -> dict:
    if previous is None:
        initial = model_to_dict(record, fields=fields)
        return {k: [None, _jsonable(v)] for k, v in sorted(initial.items()) if v not in (None, "", [], {})}
    delta = record.diff_against(previous, included_fields=fields)
    return {c.field: [_jsonable(c.old), _jsonable(c.new)] for c in delta.changes}


def audit_rows(audited: AuditedModel, start: dt.datetime, end: dt.datetime) -> Iterator[dict]:
    """Historical rows of one model with ``start <= history_date < end``, oldest id first."""
    hist = audited.history
    obj = audited.object_field
    fields = audited.diff_fields()
    base = hist.objects.filter(history_date__gte=start, history_date__lt=end).select_related("history_user")
    last_id = 0
    while True:
        chunk = list(base.filter(history_id__gt=last_id).order_by("history_id")[:CHUNK])
        if not chunk:
            return
        last_id = chunk[-1].history_id
        # Previous rows: those inside the chunk are known; the rest come from one grouped query.
        first_in_chunk: dict = {}
        for row in chunk:
            first_in_chunk.setdefault(getattr(row, obj), row.history_id)
        grouped = (hist.objects.filter(**{f"{obj}__in": list(first_in_chunk)}, history_id__lt=chunk[0].history_id)
                   .values(obj).annotate(prev=Max("history_id")).order_by())
        prev_ids = [r["prev"] for r in grouped]
        previous = {getattr(r, obj): r for r in hist.objects.filter(history_id__in=prev_ids)} if prev_ids else {}
        for row in chunk:
            key = getattr(row, obj)
            before = previous.get(key)
            previous[key] = row
            user = row.history_user
            yield {
                "timestamp": row.history_date.isoformat(),
                "model": audited.label,
                "object_id": str(key),
                "change_type": CHANGE_TYPES.get(row.history_type, row.history_type),
                "user": user.get_username() if user is not None else "",
                "system": getattr(row, "history_system", ""),
                "reason": row.history_change_reason or "",
                "correlation_id": getattr(row, "history_correlation_id", ""),
                "changes": json.dumps(_changes(audited, row, before, fields), sort_keys=True, default=str),
                "history_id": row.history_id,
            }


def audit_trail(user, start: dt.datetime, end: dt.datetime) -> Iterator[dict]:
    """Every historical row ``user`` may see in ``[start, end)``, model by model."""
    for audited in visible_models(user):
        yield from audit_rows(audited, start, end)
