"""Find what Odoo holds for our references, and describe it as ``PostingResult``.

Lookup order for every reference (habit: binding first, then search the target
by our reference): the binder, then our external ids in ``ir.model.data``
(module ``controlplane``), then a search on the field that carries the
reference (``hr.expense.name`` / ``account.move.ref``).

Used by posting (to find what an earlier, maybe interrupted, attempt created)
and by reconciliation (:func:`read_back`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from integrations.errors import PermanentError
from integrations.odoo.adapters import ExternalIdAdapter, ModelAdapter
from integrations.odoo.binder import Binder
from integrations.odoo.client import OdooClient
from integrations.odoo.mappers import (
    XMLID_MODULE,
    decimal,
    ids_of,
    m2o_id,
    m2o_name,
    ref_of_name,
    xmlid_name,
    xmlid_vals,
)
from integrations.odoo.types import PostingMode, PostingResult

logger = logging.getLogger(__name__)

EXPENSE_FIELDS_17 = ["name", "state", "sheet_id", "employee_id", "total_amount_currency",
                     "currency_id", "payment_mode"]
EXPENSE_FIELDS_19 = ["name", "state", "approval_state", "account_move_id", "employee_id",
                     "total_amount_currency", "currency_id", "payment_mode"]
SHEET_FIELDS = ["name", "state", "account_move_ids", "expense_line_ids", "payment_state"]
MOVE_FIELDS = ["name", "ref", "state", "move_type", "amount_total", "currency_id",
               "payment_state", "partner_id"]


class Locator:
    """Finds records by the name that carries our reference."""

    def __init__(self, client: OdooClient, *, binder: Binder | None = None,
                 use_external_ids: bool = True) -> None:
        self.client = client
        self.binder = binder
        self.use_external_ids = use_external_ids
        # (model, name, id) found by searching the reference: no binding or external id yet
        self.unremembered: list[tuple[str, str, int]] = []

    def find(self, model: str, names: Iterable[str], fields: Sequence[str], *,
             name_field: str = "name", domain: Sequence = ()) -> dict[str, dict[str, Any]]:
        """``{name: record}`` for the names Odoo has, read with ``fields``."""
        wanted = list(dict.fromkeys(names))
        fields = list(dict.fromkeys([*fields, name_field]))
        adapter = ModelAdapter(self.client, model)
        candidates: dict[str, int] = {}
        if self.binder is not None:
            candidates.update(self.binder.odoo_ids(model, wanted))
        rest = [n for n in wanted if n not in candidates]
        by_xmlid = self._external_ids(model, rest)
        candidates.update(by_xmlid)
        found: dict[str, dict[str, Any]] = {}
        if candidates:
            by_id = {r["id"]: r for r in adapter.read(sorted(set(candidates.values())), fields)}
            for name, odoo_id in candidates.items():
                record = by_id.get(odoo_id)
                if record is not None and record.get(name_field) == name:
                    found[name] = record
        rest = [n for n in wanted if n not in found]
        if rest:
            rows = adapter.search_read([(name_field, "in", rest), *domain], fields, order="id asc")
            for row in rows:
                name = row[name_field]
                if name in found:
                    logger.warning("several %s records carry %r: keeping id %s, not %s",
                                   model, name, found[name]["id"], row["id"])
                    continue
                found[name] = row
                self.unremembered.append((model, name, row["id"]))
        for name, odoo_id in by_xmlid.items():
            if name in found and self.binder is not None:
                self.binder.bind(model, name, odoo_id)
        return found

    def _external_ids(self, model: str, names: Sequence[str]) -> dict[str, int]:
        if not (self.use_external_ids and names):
            return {}
        by_xmlid = {xmlid_name(n): n for n in names}
        try:
            rows = ExternalIdAdapter(self.client).lookup(list(by_xmlid), model)
        except PermanentError as exc:
            if exc.code != "AccessError":
                raise
            logger.warning("no access to ir.model.data, external ids disabled: %s", exc.message)
            self.use_external_ids = False
            return {}
        return {by_xmlid[x]: res_id for x, res_id in rows.items()}


def read_back(client: OdooClient, refs: Sequence[str], *, mode: PostingMode,
              binder: Binder | None = None, use_external_ids: bool = True) -> dict[str, PostingResult]:
    """What Odoo posted (and paid) for each reference it knows; unknown refs are absent.

    Expense mode finds the ``hr.expense`` records named after the ref (or
    ``<ref>/<n>``) and follows them to their report (17/18) or move (19);
    journal-entry mode finds the ``account.move`` whose ``ref`` is the ref.
    """
    locator = Locator(client, binder=binder, use_external_ids=use_external_ids)
    if mode == "journal_entry":
        moves = locator.find("account.move", refs, MOVE_FIELDS, name_field="ref",
                             domain=[("move_type", "=", "in_invoice")])
        return {ref: move_result(ref, move) for ref, move in moves.items()}
    return expense_results(client, locator, refs)


def link_move(client: OdooClient, ref: str, document: int | str, *,
              use_external_ids: bool = True) -> tuple[PostingResult, str]:
    """Make an existing ``account.move`` (an id, or its number such as ``BILL/2026/00012``)
    the document of ``ref``; returns what Odoo holds then, and the ``ref`` it carried before.

    The move gets ``ref`` = our reference (so the lookups by reference of posting, read-back
    and reconciliation find it) and our external id ``controlplane.<ref>`` (moved over from
    another record if it pointed elsewhere; skipped when the user may not write
    ``ir.model.data``). Raises ``PermanentError`` (code ``not_found`` or ``cancelled``) when
    there is no live move by that id or number.
    """
    moves = ModelAdapter(client, "account.move")
    text = str(document).strip()
    if text.isdigit():
        rows = moves.read([int(text)], MOVE_FIELDS)
    else:
        rows = moves.search_read([("name", "=", text)], MOVE_FIELDS, order="id asc")
    rows = [r for r in rows if r.get("state") != "cancel"] or rows
    if not rows:
        raise PermanentError(f"Odoo holds no journal entry {text!r}", code="not_found")
    if len(rows) > 1:
        raise PermanentError(f"several journal entries are numbered {text!r}: give its id", code="ambiguous")
    move = rows[0]
    if move.get("state") == "cancel":
        raise PermanentError(f"journal entry {move.get('name') or move['id']} is cancelled", code="cancelled")
    previous = str(move.get("ref") or "")
    if previous != ref:
        moves.write([move["id"]], {"ref": ref})
    if use_external_ids:
        _point_external_id(client, ref, move["id"])
    [move] = moves.read([move["id"]], MOVE_FIELDS)
    return move_result(ref, move), previous


def _point_external_id(client: OdooClient, ref: str, move_id: int) -> None:
    """``controlplane.<ref>`` → ``account.move`` ``move_id`` (created, or moved over)."""
    data = ModelAdapter(client, "ir.model.data")
    try:
        rows = data.search_read([("module", "=", XMLID_MODULE), ("name", "=", xmlid_name(ref))],
                                ["model", "res_id"])
        if not rows:
            data.create([xmlid_vals(ref, "account.move", move_id)])
        elif rows[0]["model"] != "account.move" or int(rows[0]["res_id"]) != move_id:
            data.write([rows[0]["id"]], {"model": "account.move", "res_id": move_id})
    except PermanentError as exc:
        if exc.code != "AccessError":
            raise
        logger.warning("external id for %s not written (no access to ir.model.data): %s", ref, exc.message)


def expense_results(client: OdooClient, locator: Locator, refs: Sequence[str]) -> dict[str, PostingResult]:
    """PostingResults for expense-mode references (single- and multi-line)."""
    version = client.version()
    fields = EXPENSE_FIELDS_17 if version.has_expense_sheets else EXPENSE_FIELDS_19
    refs = list(refs)
    names = [*refs, *_line_names_of(client, refs)]
    records = locator.find("hr.expense", names, fields)
    by_ref = group_by_ref(records.values())
    return expense_results_from_records(client, by_ref)


def _line_names_of(client: OdooClient, refs: Sequence[str]) -> list[str]:
    """Names of multi-line expenses (``<ref>/<n>``) for ``refs``: one search, no guessing."""
    if not refs:
        return []
    domain: list = ["|"] * (len(refs) - 1) + [("name", "=like", f"{ref}/%") for ref in refs]
    rows = ModelAdapter(client, "hr.expense").search_read(domain, ["name"])
    return [row["name"] for row in rows]


def group_by_ref(records: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[ref_of_name(record["name"])].append(record)
    return dict(grouped)


def expense_results_from_records(client: OdooClient,
                                 by_ref: dict[str, list[dict[str, Any]]]) -> dict[str, PostingResult]:
    version = client.version()
    sheets: dict[int, dict[str, Any]] = {}
    if version.has_expense_sheets:
        sheet_ids = sorted({m2o_id(e.get("sheet_id")) for es in by_ref.values() for e in es} - {None})
        sheets = {s["id"]: s for s in ModelAdapter(client, "hr.expense.sheet").read(sheet_ids, SHEET_FIELDS)}
    move_ids_by_ref: dict[str, list[int]] = {}
    for ref, expenses in by_ref.items():
        ids: list[int] = []
        for expense in expenses:
            if version.has_expense_sheets:
                sheet = sheets.get(m2o_id(expense.get("sheet_id")) or 0)
                ids += list(ids_of(sheet.get("account_move_ids"))) if sheet else []
            elif m2o_id(expense.get("account_move_id")):
                ids.append(m2o_id(expense["account_move_id"]))
        move_ids_by_ref[ref] = sorted(set(ids))
    all_moves = sorted({i for ids in move_ids_by_ref.values() for i in ids})
    moves = {m["id"]: m for m in ModelAdapter(client, "account.move").read(all_moves, MOVE_FIELDS)}
    results = {}
    for ref, expenses in by_ref.items():
        ref_moves = [moves[i] for i in move_ids_by_ref[ref] if i in moves]
        sheet = sheets.get(m2o_id(expenses[0].get("sheet_id")) or 0)
        results[ref] = _expense_result(ref, expenses, ref_moves, sheet)
    return results


def _expense_result(ref: str, expenses: list[dict[str, Any]], moves: list[dict[str, Any]],
                    sheet: dict[str, Any] | None) -> PostingResult:
    expenses = sorted(expenses, key=lambda e: e["id"])
    posted = bool(moves) and all(m["state"] == "posted" for m in moves)
    workflow_state = sheet["state"] if sheet else _least_advanced(e["state"] for e in expenses)
    payment = ""
    if sheet:
        payment = sheet.get("payment_state") or ""
    elif all(e["state"] in ("paid", "in_payment") for e in expenses):
        payment = expenses[0]["state"]
    elif moves:
        payment = moves[0].get("payment_state") or ""
    return PostingResult(
        ref=ref, odoo_model="hr.expense", odoo_ids=tuple(e["id"] for e in expenses),
        document_name=", ".join(m["name"] for m in moves if m.get("name")),
        state="posted" if posted else str(workflow_state),
        amount_total=sum((decimal(e.get("total_amount_currency")) for e in expenses), Decimal("0")),
        currency_code=m2o_name(expenses[0].get("currency_id")),
        payment_state=str(payment or ""), move_ids=tuple(m["id"] for m in moves),
    )


_ORDER = ["draft", "reported", "submitted", "approved", "posted", "in_payment", "done", "paid"]


def _least_advanced(states: Iterable[str]) -> str:
    states = list(states)
    known = [s for s in states if s in _ORDER]
    if len(known) != len(states):
        return next(s for s in states if s not in _ORDER)  # refused, or something unexpected
    return min(known, key=_ORDER.index)


def move_result(ref: str, move: dict[str, Any]) -> PostingResult:
    return PostingResult(
        ref=ref, odoo_model="account.move", odoo_ids=(move["id"],),
        document_name=str(move.get("name") or ""), state=str(move["state"]),
        amount_total=decimal(move.get("amount_total")), currency_code=m2o_name(move.get("currency_id")),
        payment_state=str(move.get("payment_state") or ""), move_ids=(move["id"],),
    )
