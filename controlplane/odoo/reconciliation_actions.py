"""What finance operations can do with a reconciliation item (the admin actions call these)."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from controlplane.connections.services import binding_upsert
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import Conflict, FieldProblem, ValidationFailed
from controlplane.exceptions.models import ExceptionKind, Severity
from controlplane.exceptions.services import exception_open
from controlplane.odoo.connection import odoo_client
from controlplane.odoo.models import ItemKind, ItemStatus, LedgerState, PostingLedger, ReconciliationItem
from controlplane.sync.services import outbox_enqueue
from integrations.errors import PermanentError
from integrations.odoo.client import OdooClient
from integrations.odoo.readback import link_move

POST_OPERATION = "odoo.post_expense"


def _reason_required(reason: str) -> None:
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", [FieldProblem("reason", "required", "Say why.")])


def _locked(item_id: int) -> ReconciliationItem:
    return ReconciliationItem.objects.select_for_update().select_related("run__system", "expense").get(pk=item_id)


def reconciliation_item_repost(*, actor: Actor, item_id: int, reason: str) -> ReconciliationItem:
    """Post a missing document again: the ledger row goes back to ``pending`` and a new
    ``odoo.post_expense`` job (fresh idempotency key, reason in its payload) is queued. The
    connector still searches Odoo by the reference first, so a document that reappeared is
    found rather than duplicated."""
    _reason_required(reason)
    with transaction.atomic(), acting(actor, f"repost: {reason}"):
        item = _locked(item_id)
        if item.kind != ItemKind.MISSING:
            raise Conflict("Only a document missing in Odoo can be re-posted; link it or open an exception.",
                           code="repost_not_applicable")
        system, expense = item.run.system, item.expense
        ledger = PostingLedger.objects.select_for_update().get(system=system, reference=item.reference)
        ledger.state = LedgerState.PENDING
        ledger.outcome_unknown = False
        ledger.last_error = f"re-post requested: {reason}"
        ledger.save()
        job = outbox_enqueue(
            actor=actor, target=system, operation=POST_OPERATION, subject=expense,
            payload={"expense_id": expense.pk, "revision": ledger.revision, "reference": item.reference,
                     "repost_reason": reason},
            idempotency_key=f"{POST_OPERATION}:{expense.pk}:r{ledger.revision}:repost:{uuid.uuid4().hex[:12]}",
        )
        item.outbox_job = job
        item.status = ItemStatus.ACTIONED
        item.action = "repost"
        item.action_note = reason
        item.save()
    return item


def reconciliation_item_link(*, actor: Actor, item_id: int, odoo_move_id: int | str, reason: str,
                             client: OdooClient | None = None) -> ReconciliationItem:
    """Make an existing Odoo journal entry (its id, or its number such as ``BILL/2026/00012``),
    chosen by a person, the document of the item's expense — e.g. a bill entered by hand.

    In Odoo the entry gets our reference (its previous ``ref`` is kept in the action note) and
    our external id, so later lookups and reconciliations find it; here the expense is bound
    to it and the ledger row carries what Odoo holds (number, state, amount, payment state).
    Raises ``Conflict`` when Odoo has no live entry by that id or number; retryable Odoo errors
    propagate (nothing is changed here then).
    """
    _reason_required(reason)
    item = ReconciliationItem.objects.select_related("run__system").get(pk=item_id)
    system = item.run.system
    try:
        result, previous_ref = link_move(client or odoo_client(system), item.reference, odoo_move_id)
    except PermanentError as exc:
        raise Conflict(f"Cannot link {item.reference}: {exc.message}", code=f"link_{exc.code or 'refused'}") from exc
    move_id = result.odoo_ids[0]
    label = f"account.move#{move_id} {result.document_name}".strip()
    note = f"{label}: {reason}" + (f" (its reference was {previous_ref!r})" if previous_ref else "")
    with transaction.atomic(), acting(actor, f"linked to {label}: {reason}"):
        item = _locked(item_id)
        expense = item.expense
        binding_upsert(actor=actor, system=system, record=expense, external_model="account.move",
                       external_id=move_id, external_ref=item.reference,
                       data={"linked": reason, "previous_ref": previous_ref})
        ledger = PostingLedger.objects.select_for_update().filter(system=system, reference=item.reference).first()
        if ledger is not None:
            ledger.move_ids = [move_id]
            if ledger.odoo_model in ("", "account.move"):
                ledger.odoo_model, ledger.odoo_ids = "account.move", [move_id]
            ledger.document_name = result.document_name
            ledger.odoo_state = result.state
            ledger.amount_total = result.amount_total
            ledger.currency_code = result.currency_code
            ledger.payment_state = result.payment_state
            ledger.read_back_at = timezone.now()
            ledger.save()
        item.status = ItemStatus.ACTIONED
        item.action = "link"
        item.action_note = note
        item.save()
    return item


def reconciliation_item_open_exception(*, actor: Actor, item_id: int, note: str = "") -> ReconciliationItem:
    """Hand the item to the exception queue (kind ``reconciliation_mismatch``, one per reference and kind)."""
    with transaction.atomic(), acting(actor, note or "reconciliation exception opened"):
        item = _locked(item_id)
        expense = item.expense
        record = exception_open(
            actor=actor, kind=ExceptionKind.RECONCILIATION_MISMATCH, severity=Severity.HIGH,
            title=f"{item.reference}: {item.get_kind_display()}", detail=item.detail, subject=expense,
            legal_entity=expense.legal_entity, system=item.run.system,
            payload={"expected": item.expected, "found": item.found, "run": item.run_id},
            dedupe_key=f"odoo:{item.run.system.code}:recon:{item.reference}:{item.kind}",
        )
        item.exception = record
        item.status = ItemStatus.ACTIONED
        item.action = "exception"
        item.action_note = note
        item.save()
    return item


def reconciliation_item_resolve(*, actor: Actor, item_id: int, note: str) -> ReconciliationItem:
    """Close the item with a written note (e.g. "corrected in Odoo by hand")."""
    _reason_required(note)
    with transaction.atomic(), acting(actor, f"reconciliation item resolved: {note}"):
        item = _locked(item_id)
        item.status = ItemStatus.RESOLVED
        item.action = item.action or "resolved"
        item.action_note = note
        item.save()
    return item
