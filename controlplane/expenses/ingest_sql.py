"""Row writing for bulk ingest: many new rows of one model and their creation history rows,
in two statements whatever the number of rows.

On PostgreSQL both are plain SQL — the rows as one ``INSERT ... SELECT FROM unnest(<one array
per column>)``, the history rows copied from them by the database — which spares Django's
and the driver's per-value work (the bulk of the cost of writing thousands of lines). Other
databases go through :func:`controlplane.expenses.bulk.bulk_insert_with_history`. Either way
each history row names the current actor's user and system, the correlation id and the
reason given for its row, as the per-row history signal would.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from controlplane.expenses.bulk import _history_defaults, bulk_insert_with_history


def insert_with_history(model, objs: list, reasons: list[str]) -> None:
    """Insert ``objs`` (new instances; their primary keys are set) with one creation history
    row each, ``reasons[i]`` being the change reason of ``objs[i]``."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        for obj, reason in zip(objs, reasons, strict=True):
            obj._change_reason = reason
        bulk_insert_with_history(model, objs)
        for obj in objs:
            del obj._change_reason  # a later save() of the instance must not reuse it
        return
    _insert_rows(model, objs)
    _copy_history(model, objs, reasons)


def _insert_rows(model, objs: list) -> None:
    """One INSERT of ``objs`` from per-column arrays, in order; sets their primary keys and
    ``auto_now`` / ``auto_now_add`` timestamps as ``bulk_create`` would."""
    q = connection.ops.quote_name
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns, arrays, casts = [], [], []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for obj in objs:
                setattr(obj, f.attname, now)
        elif any(getattr(obj, f.attname) is None for obj in objs) and not f.null:
            # Let Django name the missing value (and any other oddity) as bulk_create does.
            model.objects.bulk_create(objs)
            return
        columns.append(q(f.column))
        values = [getattr(obj, f.attname) for obj in objs]
        kind = f.get_internal_type()
        if kind in _PLAIN and all(v is None or isinstance(v, _PLAIN_VALUES) for v in values):
            arrays.append(_array_literal(values))
        elif kind == "JSONField" and all(isinstance(v, (dict, list)) for v in values):
            arrays.append(_array_literal([json.dumps(v, cls=f.encoder) for v in values]))
        else:
            arrays.append([f.get_db_prep_save(v, connection) for v in values])
        casts.append(f"%s::{f.cast_db_type(connection)}[]")
    names = [f"c{i}" for i in range(len(columns))]
    sql = (f"INSERT INTO {q(model._meta.db_table)} ({', '.join(columns)}) "
           f"SELECT {', '.join(names)} FROM unnest({', '.join(casts)}) WITH ORDINALITY "
           f"AS u({', '.join(names)}, ord) ORDER BY ord RETURNING {q(model._meta.pk.column)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        pks = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, connection.alias


# Field types whose Python values PostgreSQL reads from their str() as an array element;
# a column of these is sent as one array literal, which the driver need not dump value by value.
_PLAIN = {"CharField", "TextField", "SlugField", "DecimalField", "DateField", "DateTimeField", "UUIDField",
          "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
          "PositiveBigIntegerField", "PositiveSmallIntegerField", "ForeignKey", "BooleanField"}
_PLAIN_VALUES = (str, int, Decimal, dt.date, uuid.UUID)  # (bool is an int; datetime a date)


def _array_literal(values: list) -> str:
    """A PostgreSQL array literal of ``values``: every element quoted, ``"`` and ``\\``
    escaped, None as NULL."""
    def element(value) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "t" if value else "f"
        text = str(value)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ",".join(map(element, values)) + "}"


def _copy_history(model, objs: list, reasons: list[str]) -> None:
    """One creation history row per stored ``objs`` row, copied from it by the database."""
    historical = model.history.model
    defaults = _history_defaults()
    user = defaults["default_user"] or historical.get_default_history_user(objs[0])
    stamped = {"history_date": timezone.now(), "history_type": "+", "history_user_id": getattr(user, "pk", None),
               **defaults["custom_historical_attrs"]}
    tracked = list(historical.tracked_fields)
    names = {f.attname for f in tracked}
    extra = [f for f in historical._meta.concrete_fields
             if f.attname not in names and f.attname not in ("history_id", "history_change_reason")]
    q = connection.ops.quote_name
    columns = [*(q(f.column) for f in tracked), *(q(f.column) for f in extra), q("history_change_reason")]
    values = [*(f"t.{q(f.column)}" for f in tracked), *(f"%s::{f.cast_db_type(connection)}" for f in extra),
              "r.reason"]
    sql = (f"INSERT INTO {q(historical._meta.db_table)} ({', '.join(columns)}) "
           f"SELECT {', '.join(values)} FROM {q(model._meta.db_table)} t "
           f"JOIN unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS r(id, reason, ord) "
           f"ON t.{q(model._meta.pk.column)} = r.id ORDER BY r.ord")
    params = [f.get_db_prep_save(stamped[f.attname] if f.attname in stamped else f.get_default(), connection)
              for f in extra]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, [obj.pk for obj in objs], list(reasons)])
