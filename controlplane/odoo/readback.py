"""Read back what Odoo posted, and later paid, for our posted expenses.

"Paid in Odoo" is data (the ledger row's ``payment_state``) for reconciliation; it marks the
expense reimbursed only where an ownership rule makes this Odoo system the owner of the
expense's payment stage.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from controlplane.connections.models import ExternalSystem
from controlplane.connections.ownership import owner_of
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import DomainError
from controlplane.expenses.services import expense_mark_reimbursed
from controlplane.expenses.states import PaymentState
from controlplane.odoo.binder import DjangoBinder
from controlplane.odoo.connection import odoo_client
from controlplane.odoo.models import LedgerState, PostingLedger
from integrations.odoo.client import OdooClient
from integrations.odoo.readback import read_back
from integrations.odoo.types import PostingResult

logger = logging.getLogger(__name__)
PAID = ("paid",)
CHUNK = 200


def odoo_readback(*, actor: Actor, system: ExternalSystem, expense_ids: Iterable[int] | None = None,
                  client: OdooClient | None = None) -> dict[str, PostingResult]:
    """Refresh the posted ledger rows of ``system`` (all, or those of ``expense_ids``) from Odoo.

    Returns ``{reference: PostingResult}`` for the references Odoo holds. Applies "paid in
    Odoo" to the expense only when Odoo owns the payment stage.
    """
    rows = PostingLedger.objects.filter(system=system, state=LedgerState.POSTED).select_related("expense")
    if expense_ids is not None:
        rows = rows.filter(expense_id__in=list(expense_ids))
    rows = list(rows)
    client = client or odoo_client(system)
    found = read_back_rows(actor=actor, system=system, rows=rows, client=client)
    rule = owner_of("expense", "", "payment")
    odoo_pays = rule is not None and rule.owner_id == system.pk
    now = timezone.now()
    for row in rows:
        result = found.get(row.reference)
        if result is None:
            continue
        with transaction.atomic(), acting(actor, f"read back from Odoo: {result.state}/{result.payment_state}"):
            fresh = PostingLedger.objects.select_for_update().get(pk=row.pk)
            fresh.document_name = result.document_name[:255]
            fresh.odoo_state = result.state
            fresh.payment_state = result.payment_state
            fresh.read_back_at = now
            fresh.save(update_fields=["document_name", "odoo_state", "payment_state", "read_back_at", "updated_at"])
        if odoo_pays and result.payment_state in PAID and row.expense.payment_state != PaymentState.PAID:
            try:
                expense_mark_reimbursed(actor=actor, expense_id=row.expense_id,
                                        payment_ref=f"odoo:{result.document_name or row.reference}")
            except DomainError as exc:
                logger.warning("paid in Odoo but not marked reimbursed (%s): %s", row.reference, exc)
    return found


def read_back_rows(*, actor: Actor, system: ExternalSystem, rows: list[PostingLedger],
                   client: OdooClient) -> dict[str, PostingResult]:
    """What Odoo holds for the ledger rows' references (by their posting mode), in chunks."""
    binder = DjangoBinder(actor=actor, system=system)
    found: dict[str, PostingResult] = {}
    by_mode: dict[str, list[str]] = {}
    for row in rows:
        by_mode.setdefault(row.mode, []).append(row.reference)
    for mode, refs in by_mode.items():
        for start in range(0, len(refs), CHUNK):
            found.update(read_back(client, refs[start:start + CHUNK], mode=mode, binder=binder))
    return found
