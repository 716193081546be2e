"""Reconciliation: every expense we posted against the Odoo document found by its reference.

    run = reconciliation_run(actor=actor, system=odoo)

Items (one per reference and kind): missing in Odoo, duplicated in Odoo (more than one
live document carries the reference), amount / currency / tax mismatch, and payment drift
(paid in Odoo but not reimbursed here, or the reverse). Actions on an item are services in
:mod:`controlplane.odoo.reconciliation_actions`.
"""

from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor, acting
from controlplane.expenses.models import Expense
from controlplane.expenses.states import PaymentState, PostingState
from controlplane.odoo.connection import odoo_client
from controlplane.odoo.models import ItemKind, LedgerState, PostingLedger, ReconciliationItem, ReconciliationRun
from controlplane.odoo.readback import CHUNK, read_back_rows
from integrations.errors import IntegrationError
from integrations.odoo.client import OdooClient
from integrations.odoo.mappers import decimal, m2o_name, ref_of_name

logger = logging.getLogger(__name__)
TOLERANCE = Decimal("0.01")
ODOO_PAID = ("paid", "in_payment")


def reconciliation_run(*, actor: Actor, system: ExternalSystem, client: OdooClient | None = None) -> ReconciliationRun:
    """Compare every posted expense of ``system`` with Odoo and record the differences.

    The run row is committed first (status ``running``) so a failure leaves a ``failed`` run
    with its error rather than nothing; the connector's errors are re-raised after that.
    """
    with transaction.atomic(), acting(actor, "reconciliation started"):
        run = ReconciliationRun.objects.create(system=system, started_by=actor.label())
    try:
        client = client or odoo_client(system)
        rows = _posted_rows(system)
        found = read_back_rows(actor=actor, system=system, rows=rows, client=client)
        moves = _moves_by_ref(client, [r.reference for r in rows])
        expense_names = _expense_names(client, [r.reference for r in rows if r.mode == "expense"])
        counts: Counter = Counter()
        with transaction.atomic(), acting(actor, f"reconciliation #{run.pk}"):
            for row in rows:
                for kind, detail, expected, seen in _differences(row, found.get(row.reference),
                                                                 moves.get(row.reference, []),
                                                                 expense_names.get(row.reference, Counter())):
                    ReconciliationItem.objects.create(run=run, expense=row.expense, reference=row.reference,
                                                      kind=kind, detail=detail, expected=expected, found=seen)
                    counts[kind] += 1
            run.checked = len(rows)
            run.counts = dict(counts)
            run.status = ReconciliationRun.Status.COMPLETED
            run.finished_at = timezone.now()
            run.save()
    except IntegrationError as exc:
        with transaction.atomic(), acting(actor, "reconciliation failed"):
            run.status = ReconciliationRun.Status.FAILED
            run.error = str(exc)[:2000]
            run.finished_at = timezone.now()
            run.save()
        raise
    return run


def _posted_rows(system: ExternalSystem) -> list[PostingLedger]:
    """Ledger rows of the posted expenses of ``system``."""
    return list(PostingLedger.objects.filter(system=system, state=LedgerState.POSTED,
                                             expense__posting_state=PostingState.POSTED)
                .select_related("expense__currency").order_by("pk"))


def _moves_by_ref(client: OdooClient, refs: list[str]) -> dict[str, list[dict]]:
    """Live (not cancelled) account.move records carrying each reference, or a line name of it."""
    out: dict[str, list[dict]] = {}
    fields = ["name", "ref", "state", "amount_total", "amount_tax", "currency_id", "payment_state", "move_type"]
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start:start + CHUNK]
        # Not payment entries (move_type "entry"): Odoo gives them the paid bill's reference as memo.
        domain = [("ref", "in", chunk), ("state", "!=", "cancel"), ("move_type", "!=", "entry")]
        for move in client.search_read("account.move", domain, fields, order="id asc"):
            out.setdefault(ref_of_name(move["ref"]), []).append(move)
    return out


def _expense_names(client: OdooClient, refs: list[str]) -> dict[str, Counter]:
    """How many ``hr.expense`` records carry each name of each reference (expense mode)."""
    out: dict[str, Counter] = {}
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start:start + CHUNK]
        terms: list = [("name", "in", chunk)] + [("name", "=like", f"{r}/%") for r in chunk]
        domain = ["|"] * (len(terms) - 1) + terms
        for row in client.search_read("hr.expense", domain, ["name"]):
            out.setdefault(ref_of_name(row["name"]), Counter())[row["name"]] += 1
    return out


def _differences(row: PostingLedger, result, moves: list[dict], names: Counter):
    """``(kind, detail, expected, found)`` for each difference of one posted expense."""
    expense: Expense = row.expense
    expected = {"amount_total": str(expense.total_amount), "currency": expense.currency.code,
                "amount_tax": str(expense.total_tax), "paid": expense.payment_state == PaymentState.PAID}
    own_moves = [m for m in moves if m["ref"] == row.reference]
    if result is None and not own_moves:
        yield ItemKind.MISSING, "No Odoo document carries this reference.", expected, {}
        return
    if result is not None and not result.move_ids and not own_moves:
        found = {"odoo_model": result.odoo_model, "odoo_ids": list(result.odoo_ids), "state": result.state}
        yield ItemKind.MISSING, f"Odoo holds the {result.odoo_model} records but no journal entry " \
                                f"(state {result.state}).", expected, found
        return
    duplicated = [n for n, count in names.items() if count > 1]
    if len(own_moves) > 1 or duplicated:
        found = {"moves": [{"id": m["id"], "name": m["name"], "amount_total": m["amount_total"]} for m in own_moves],
                 "duplicated_expense_names": duplicated}
        yield ItemKind.DUPLICATE, f"{len(own_moves)} documents carry this reference.", expected, found
    move = next((m for m in own_moves if result is None or m["id"] in result.move_ids), own_moves[0] if own_moves else None)
    currency = result.currency_code if result is not None else m2o_name(move["currency_id"])
    found = {"document": (result.document_name if result else move["name"]), "currency": currency,
             "amount_total": str(result.amount_total) if result else str(move["amount_total"]),
             "payment_state": result.payment_state if result else move.get("payment_state", "")}
    if currency != expense.currency.code:
        yield ItemKind.CURRENCY, f"Odoo holds {currency}, we posted {expense.currency.code}.", expected, found
        return
    # (amount, where Odoo holds it): the document read back, and the journal entry itself
    amounts = [(decimal(result.amount_total), _holder(result))] if result is not None else []
    move_in_currency = move is not None and m2o_name(move["currency_id"]) == expense.currency.code
    if move_in_currency:
        amounts.append((decimal(move["amount_total"]), f"journal entry {move['name']}"))
        found["move_amount_total"] = str(move["amount_total"])
    if any(abs(a - expense.total_amount) > TOLERANCE for a, _ in amounts):
        yield ItemKind.AMOUNT, _amount_detail(amounts, expense.total_amount), expected, found
    elif move_in_currency and abs(decimal(move["amount_tax"]) - expense.total_tax) > TOLERANCE * expense.lines.count():
        found["amount_tax"] = str(move["amount_tax"])
        yield ItemKind.TAX, f"Odoo's tax is {move['amount_tax']}, ours {expense.total_tax}.", expected, found
    payment = found["payment_state"]
    paid_here = expense.payment_state == PaymentState.PAID
    if payment in ODOO_PAID and not paid_here:
        yield ItemKind.PAID_NOT_REIMBURSED, "Paid in Odoo, not reimbursed here.", expected, found
    elif paid_here and payment not in ODOO_PAID:
        yield ItemKind.REIMBURSED_NOT_PAID, "Reimbursed here, not paid in Odoo.", expected, found



def _holder(result) -> str:
    """What a read-back result is, in words: the expense records or the journal entry."""
    if result.odoo_model == "hr.expense":
        return "expense"
    return f"journal entry {result.document_name}".strip()


def _amount_detail(amounts: list[tuple[Decimal, str]], ours: Decimal) -> str:
    """"Odoo holds 999.00, we posted 115.00." — each differing amount once, named by where
    Odoo holds it when the expense and its journal entry disagree."""
    distinct = list(dict.fromkeys(a for a, _ in amounts))
    if len(distinct) == 1:
        held = f"{distinct[0]:.2f}"
    else:
        held = ", ".join(f"{a:.2f} on the {where}" for a, where in amounts)
    return f"Odoo holds {held}, we posted {ours:.2f}."
