"""CRUD per Odoo model, over :class:`~integrations.odoo.client.OdooClient`.

An adapter knows a model's name, the domain idioms that fetch it (incremental
on ``write_date``, archived records included) and its workflow buttons. It
returns Odoo's dicts; :mod:`integrations.odoo.mappers` turns them into
dataclasses. Every method is one remote call unless it says it pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from integrations.odoo.client import OdooClient
from integrations.odoo.mappers import XMLID_MODULE, odoo_datetime


class ModelAdapter:
    """Reads and writes one Odoo model."""

    model = ""

    def __init__(self, client: OdooClient, model: str | None = None) -> None:
        self.client = client
        if model:
            self.model = model

    def search(self, domain: Sequence, *, limit: int | None = None, order: str | None = None) -> list[int]:
        return self.client.search(self.model, domain, limit=limit, order=order)

    def search_read(self, domain: Sequence, fields: Sequence[str], **kwargs: Any) -> list[dict[str, Any]]:
        return self.client.search_read(self.model, domain, fields, **kwargs)

    def read(self, ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        return self.client.read(self.model, ids, fields)

    def create(self, vals_list: Sequence[dict[str, Any]], **kwargs: Any) -> list[int]:
        return self.client.create(self.model, vals_list, **kwargs)

    def write(self, ids: Sequence[int], vals: dict[str, Any]) -> bool:
        return self.client.write(self.model, ids, vals)

    def button(self, method: str, ids: Sequence[int], **kwargs: Any) -> Any:
        """Call a workflow method on ``ids``; ``None`` for methods that return nothing."""
        return self.client.call(self.model, method, list(ids), **kwargs)

    def changed_since(
        self,
        fields: Sequence[str],
        since: dt.datetime | None = None,
        *,
        domain: Sequence = (),
        page_size: int = 200,
        include_archived: bool = True,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of records with ``write_date > since`` (all when ``since`` is None),
        oldest first, archived ones included when ``fields`` has ``active``.

        Odoo stores ``write_date`` with microseconds but returns it truncated to
        the second, so a keyset on the returned value cannot use ``=``. Each
        next page asks for ``write_date >= <last second read>`` minus the ids
        already read in that second: nothing is skipped, and a record written
        again while paging may come twice (callers keep the last).
        """
        base = list(domain)
        if include_archived and "active" in fields:  # Odoo hides archived records unless asked
            base.append(("active", "in", [True, False]))
        if since is not None:
            base.append(("write_date", ">", odoo_datetime(since)))
        wanted = list(dict.fromkeys([*fields, "write_date"]))
        second: str | None = None
        seen_in_second: list[int] = []
        while True:
            page_domain = list(base)
            if second is not None:
                page_domain += [("write_date", ">=", second), ("id", "not in", seen_in_second)]
            page = self.search_read(page_domain, wanted, limit=page_size, order="write_date asc, id asc")
            if page:
                yield page
            if len(page) < page_size:
                return
            last_second = page[-1]["write_date"]
            if last_second != second:
                second, seen_in_second = last_second, []
            seen_in_second += [row["id"] for row in page if row["write_date"] == second]


class ExpenseAdapter(ModelAdapter):
    model = "hr.expense"
    STATE_FIELDS = ("name", "state", "sheet_id", "employee_id", "total_amount_currency",
                    "currency_id", "payment_mode")
    STATE_FIELDS_19 = ("name", "state", "approval_state", "account_move_id", "employee_id",
                       "total_amount_currency", "currency_id", "payment_mode")

    def by_names(self, names: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
        return self.search_read([("name", "in", list(names))], fields) if names else []


class ExpenseSheetAdapter(ModelAdapter):
    model = "hr.expense.sheet"
    STATE_FIELDS = ("name", "state", "approval_state", "account_move_ids", "expense_line_ids",
                    "payment_state")


class MoveAdapter(ModelAdapter):
    model = "account.move"
    READ_FIELDS = ("name", "ref", "state", "move_type", "amount_total", "currency_id",
                   "payment_state", "partner_id", "date")

    def by_refs(self, refs: Sequence[str], fields: Sequence[str] = READ_FIELDS,
                move_type: str | None = "in_invoice") -> list[dict[str, Any]]:
        if not refs:
            return []
        domain: list = [("ref", "in", list(refs)), ("state", "!=", "cancel")]
        if move_type:
            domain.append(("move_type", "=", move_type))
        return self.search_read(domain, fields)


class AttachmentAdapter(ModelAdapter):
    model = "ir.attachment"

    def on_records(self, res_model: str, res_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """``{res_id: {attachment name: attachment id}}`` for attachments already on the records."""
        if not res_ids:
            return {}
        found: dict[int, dict[str, int]] = {}
        rows = self.search_read([("res_model", "=", res_model), ("res_id", "in", list(res_ids))],
                                ["name", "res_id"], order="id asc")
        for row in rows:
            found.setdefault(int(row["res_id"]), {}).setdefault(row["name"], row["id"])
        return found


class ExternalIdAdapter(ModelAdapter):
    """``ir.model.data`` in our module: stable external ids for what we create."""

    model = "ir.model.data"

    def lookup(self, names: Sequence[str], model: str) -> dict[str, int]:
        """``{xmlid name: res_id}`` for our external ids on ``model``."""
        if not names:
            return {}
        rows = self.search_read([("module", "=", XMLID_MODULE), ("name", "in", list(names)),
                                 ("model", "=", model)], ["name", "res_id"])
        return {row["name"]: int(row["res_id"]) for row in rows}


class EmployeeAdapter(ModelAdapter):
    model = "hr.employee"

    def by_work_emails(self, emails: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
        if not emails:
            return []
        return self.search_read([("work_email", "in", list(emails))], fields)


def adapter(client: OdooClient, model: str) -> ModelAdapter:
    """A generic adapter for ``model`` (companies, currencies, accounts, taxes, ...)."""
    return ModelAdapter(client, model)
