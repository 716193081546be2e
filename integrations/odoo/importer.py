"""Master-data import: Odoo records changed since a watermark, as dataclasses.

    batch = import_master_data(client, "account.tax", since=last_watermark)
    upsert(batch.records); save(batch.watermark)

Reads are incremental on ``write_date`` and paged (keyset on write_date, id);
archived records are included so that the Django side can deactivate its
mirrors. Upserting the same record twice must be harmless: the watermark is
moved back by ``overlap`` before querying, because Odoo's ``write_date`` has
one-second resolution and a record written in the same second as the last
read would otherwise be missed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from integrations.odoo import mappers
from integrations.odoo.adapters import ModelAdapter
from integrations.odoo.client import OdooClient
from integrations.odoo.versions import model_fields

T = TypeVar("T")

# kind -> (Odoo model, mapper, extra domain)
_KINDS: dict[str, tuple[str, Callable[[dict[str, Any]], Any], list]] = {
    "companies": ("res.company", mappers.company_from_odoo, []),
    "currencies": ("res.currency", mappers.currency_from_odoo, []),
    "currency_rates": ("res.currency.rate", mappers.currency_rate_from_odoo, []),
    "accounts": ("account.account", mappers.account_from_odoo, []),
    "taxes": ("account.tax", mappers.tax_from_odoo, []),
    "journals": ("account.journal", mappers.journal_from_odoo, []),
    "analytic_accounts": ("account.analytic.account", mappers.analytic_account_from_odoo, []),
    "expense_products": ("product.product", mappers.product_from_odoo, [("can_be_expensed", "=", True)]),
    "departments": ("hr.department", mappers.department_from_odoo, []),
    "employees": ("hr.employee", mappers.employee_from_odoo, []),
    "partners": ("res.partner", mappers.partner_from_odoo, []),
}
KINDS = tuple(_KINDS)


@dataclass(frozen=True)
class ImportBatch(Generic[T]):
    """Records of one kind changed since the previous watermark.

    ``watermark`` is the newest ``write_date`` read (or the ``since`` given
    when nothing changed): pass it as ``since`` next time.
    """

    kind: str
    records: tuple[T, ...]
    watermark: dt.datetime | None


def import_master_data(
    client: OdooClient,
    kind: str,
    *,
    since: dt.datetime | None = None,
    page_size: int = 200,
    overlap: dt.timedelta = dt.timedelta(seconds=1),
    domain: Sequence = (),
) -> ImportBatch:
    """Read every ``kind`` record (see ``KINDS``) written after ``since`` minus
    ``overlap``; one ``search_read`` per page of ``page_size``."""
    if kind not in _KINDS:
        raise ValueError(f"unknown master-data kind {kind!r}; expected one of {KINDS}")
    model, mapper, extra = _KINDS[kind]
    fields = model_fields(model, client.version())
    query_since = since - overlap if since is not None else None
    records: dict[int, Any] = {}  # by Odoo id: a record read twice keeps its last version
    watermark = since
    for page in ModelAdapter(client, model).changed_since(
            fields, query_since, domain=[*extra, *domain], page_size=page_size):
        for row in page:
            records[row["id"]] = mapper(row)
            written = mappers.to_datetime(row.get("write_date"))
            if written is not None and (watermark is None or written > watermark):
                watermark = written
    return ImportBatch(kind, tuple(records.values()), watermark)


def import_all(client: OdooClient, watermarks: dict[str, dt.datetime | None] | None = None,
               **kwargs: Any) -> dict[str, ImportBatch]:
    """Every kind, each from its own watermark (``None``: everything)."""
    watermarks = watermarks or {}
    return {kind: import_master_data(client, kind, since=watermarks.get(kind), **kwargs)
            for kind in KINDS}
