"""Register in Odoo the reimbursements our payroll or bank made, idempotently and in batches.

    outcomes = register_payments(client, [PaymentRequest(ref="CP-...-r1", mode="expense")])

What Odoo does when a person clicks "Register Payment" (17.0) / "Pay" (19.0), as recorded
under ``shared/odoo/``: the button returns the ``account.payment.register`` wizard action
whose context names the entries' lines (``active_model: account.move.line``); the wizard is
created with that context and ``action_create_payments`` posts the payment(s) and reconciles
them, so the entries' ``payment_state`` becomes ``paid``. The button used here is the
entries' own (``account.move.action_register_payment``): the report's (17.0) and the
expense's (19.0) buttons delegate to it for the same entries, and one wizard then pays the
entries of every mode in a batch. ``group_payment=False`` makes Odoo post one payment per
entry (one per employee's bill), not one lump sum.

Algorithm, for a batch:

1. find each reference's entries: those the caller knows (the posting ledger), else what
   :func:`integrations.odoo.readback.read_back` finds by the reference;
2. read the entries (``state``, ``payment_state``, ``amount_residual``): an entry already
   ``paid`` / ``in_payment`` (an earlier attempt whose answer was lost, or a person in Odoo)
   is not paid again — this read is what makes a retry after an unknown outcome safe;
3. one wizard per payment date and company for all entries still open (a permanent refusal is isolated
   by bisection, as posting does); retryable errors propagate for the whole batch;
4. read the entries again and report per reference.

Odoo 19 posts one entry per employee for a posting batch: an entry shared with expenses the
caller does not report reimbursed (``is_reimbursed``) is not paid — Odoo pays entries whole —
and that reference waits (retryable) until its siblings are reimbursed too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.errors import IntegrationError, PermanentError, RetryableError
from integrations.odoo.adapters import ModelAdapter
from integrations.odoo.binder import Binder
from integrations.odoo.client import OdooClient
from integrations.odoo.mappers import ids_of, m2o_id, ref_of_name
from integrations.odoo.readback import read_back
from integrations.odoo.types import PostingMode

logger = logging.getLogger(__name__)

PAID = frozenset({"paid", "in_payment"})
SETTLED = PAID | {"reversed"}
MOVE_FIELDS = ["name", "ref", "state", "move_type", "payment_state", "amount_residual", "amount_total", "company_id"]


@dataclass(frozen=True)
class PaymentRequest:
    """Pay the entries of posting reference ``ref``. ``move_ids``: the entries the caller
    knows (empty: found by the reference); ``payment_date``: when payroll paid (default today)."""

    ref: str
    mode: PostingMode
    move_ids: tuple[int, ...] = ()
    payment_date: dt.date | None = None


@dataclass(frozen=True)
class PaymentResult:
    """The reference's entries are paid in Odoo. ``registered``: this call registered the
    payment (False: Odoo held them paid already)."""

    ref: str
    move_ids: tuple[int, ...]
    document_name: str
    payment_state: str
    registered: bool


@dataclass(frozen=True)
class PaymentFailure:
    """This reference alone failed: ``error`` is a ``PermanentError`` (a person must act) or a
    ``RetryableError`` (try this reference again later)."""

    ref: str
    error: IntegrationError


PaymentOutcome = PaymentResult | PaymentFailure


def register_payments(client: OdooClient, requests: Sequence[PaymentRequest], *,
                      journal_id: int | None = None, binder: Binder | None = None,
                      is_reimbursed: Callable[[Collection[str]], Collection[str]] | None = None,
                      use_external_ids: bool = True) -> list[PaymentOutcome]:
    """Register the payments of ``requests``; one outcome per request, in the same order.

    Raises ``RetryableError`` / ``UnknownOutcomeError`` when the batch should be retried as a
    whole (a retry finds the entries paid and pays nothing twice), and ``PermanentError``
    only for failures that are not about one reference (login refused, model missing).
    ``journal_id``: the bank journal to pay from (default: Odoo's). ``is_reimbursed(refs)``
    says which other references are reimbursed on the caller's side (Odoo 19 shared entries).
    """
    return _Payer(client, journal_id=journal_id, binder=binder, is_reimbursed=is_reimbursed,
                  use_external_ids=use_external_ids).run(requests)


@dataclass
class _Payer:
    client: OdooClient
    journal_id: int | None = None
    binder: Binder | None = None
    is_reimbursed: Callable[[Collection[str]], Collection[str]] | None = None
    use_external_ids: bool = True
    failures: dict[str, IntegrationError] = field(default_factory=dict)

    def run(self, requests: Sequence[PaymentRequest]) -> list[PaymentOutcome]:
        moves_by_ref = self._entries(requests)
        all_ids = sorted({m for ids in moves_by_ref.values() for m in ids})
        moves = self._read(all_ids)
        self._check_shared(moves_by_ref, moves)
        registered: set[str] = set()
        # One wizard per payment date and company (Odoo refuses entries of several companies).
        groups: dict[tuple[str, Any], list[str]] = {}
        for request in requests:
            ref = request.ref
            if ref in self.failures or ref not in moves_by_ref:
                continue
            open_ids = self._open(ref, moves_by_ref[ref], moves)
            if open_ids:
                day = (request.payment_date or dt.date.today()).isoformat()
                company = m2o_id(moves[open_ids[0]].get("company_id"))
                groups.setdefault((day, company), []).append(ref)
        for (day, _company), refs in groups.items():
            self._isolate(refs, lambda batch, day=day: self._pay(batch, moves_by_ref, moves, day))
            registered.update(r for r in refs if r not in self.failures)
        if registered:
            moves.update(self._read(sorted({m for r in registered for m in moves_by_ref[r]})))
        return [self._outcome(r, moves_by_ref, moves, registered) for r in requests]

    # ------------------------------------------------------------------ steps

    def _entries(self, requests: Sequence[PaymentRequest]) -> dict[str, tuple[int, ...]]:
        """Each reference's entries: as given, else found by the reference (per mode)."""
        out = {r.ref: tuple(r.move_ids) for r in requests if r.move_ids}
        unknown: dict[str, list[str]] = {}
        for r in requests:
            if not r.move_ids:
                unknown.setdefault(r.mode, []).append(r.ref)
        for mode, refs in unknown.items():
            found = read_back(self.client, refs, mode=mode, binder=self.binder,
                              use_external_ids=self.use_external_ids)
            for ref in refs:
                result = found.get(ref)
                if result is None or not result.move_ids:
                    self.failures[ref] = PermanentError(
                        "Odoo holds no journal entry for this reference to register the payment on",
                        code="not_found")
                else:
                    out[ref] = tuple(result.move_ids)
        return out

    def _read(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        fields = list(MOVE_FIELDS)
        if not self.client.version().has_expense_sheets:
            fields.append("expense_ids")
        return {m["id"]: m for m in ModelAdapter(self.client, "account.move").read(list(ids), fields)}

    def _open(self, ref: str, ids: tuple[int, ...], moves: dict[int, dict[str, Any]]) -> list[int]:
        """The entries of ``ref`` still to pay; records a failure when one cannot be paid."""
        todo = []
        for move_id in ids:
            move = moves.get(move_id)
            if move is None or move.get("state") == "cancel":
                self.failures[ref] = PermanentError(
                    f"journal entry {move_id} of {ref} is cancelled or gone in Odoo", code="not_found")
                return []
            if (move.get("payment_state") or "") in SETTLED or float(move.get("amount_residual") or 0.0) <= 0.0:
                continue
            if move.get("state") != "posted":
                self.failures[ref] = RetryableError(
                    f"journal entry {move.get('name') or move_id} is {move.get('state')}, not posted yet",
                    code="not_posted")
                return []
            todo.append(move_id)
        return todo

    def _check_shared(self, moves_by_ref: dict[str, tuple[int, ...]], moves: dict[int, dict[str, Any]]) -> None:
        """Odoo 19: an open entry that also carries expenses of references not reimbursed on
        our side is left alone (Odoo pays an entry whole); its references wait."""
        expense_ids = {m: list(ids_of(moves[m].get("expense_ids"))) for m in moves
                       if len(ids_of(moves[m].get("expense_ids"))) > 1
                       and (moves[m].get("payment_state") or "") not in SETTLED}
        if not expense_ids:
            return
        names = {e["id"]: e["name"] for e in ModelAdapter(self.client, "hr.expense").read(
            sorted({e for ids in expense_ids.values() for e in ids}), ["name"])}
        ours = set(moves_by_ref)
        others = {ref_of_name(names[e]) for ids in expense_ids.values() for e in ids if e in names} - ours
        reimbursed = set(self.is_reimbursed(sorted(others))) if (others and self.is_reimbursed) else set()
        for ref, ids in moves_by_ref.items():
            for move_id in ids:
                waiting = sorted({ref_of_name(names[e]) for e in expense_ids.get(move_id, []) if e in names}
                                 - ours - reimbursed)
                if waiting:
                    self.failures.setdefault(ref, RetryableError(
                        f"journal entry {moves[move_id].get('name')} also carries {', '.join(waiting)}, "
                        "not reimbursed yet: Odoo pays an entry whole", code="shared_entry"))

    def _pay(self, refs: list[str], moves_by_ref: dict[str, tuple[int, ...]],
             moves: dict[int, dict[str, Any]], day: str) -> None:
        """One ``account.payment.register`` wizard for the open entries of ``refs``."""
        ids = sorted({m for r in refs for m in moves_by_ref[r]
                      if (moves[m].get("payment_state") or "") not in SETTLED
                      and float(moves[m].get("amount_residual") or 0.0) > 0.0})
        if not ids:
            return
        action = self.client.call("account.move", "action_register_payment", ids)
        context = dict((action or {}).get("context") or {})
        if not context.get("active_ids"):
            raise PermanentError("Odoo's register-payment action named no lines to pay", code="bad_response")
        vals: dict[str, Any] = {"payment_date": day, "group_payment": False}
        if self.journal_id:
            vals["journal_id"] = self.journal_id
        [wizard] = self.client.create("account.payment.register", [vals], context=context)
        self.client.call("account.payment.register", "action_create_payments", [wizard], context=context)

    def _isolate(self, refs: list[str], call: Callable[[list[str]], Any]) -> None:
        """Run ``call`` on ``refs`` at once; on ``PermanentError`` bisect until the refused
        references are alone. Retryable errors propagate (the batch is retried)."""
        if not refs:
            return
        try:
            call(refs)
            return
        except PermanentError as exc:
            if len(refs) == 1:
                logger.info("payment of %s refused by Odoo: %s", refs[0], exc)
                self.failures.setdefault(refs[0], exc)
                return
        middle = len(refs) // 2
        self._isolate(refs[:middle], call)
        self._isolate(refs[middle:], call)

    def _outcome(self, request: PaymentRequest, moves_by_ref: dict[str, tuple[int, ...]],
                 moves: dict[int, dict[str, Any]], registered: set[str]) -> PaymentOutcome:
        ref = request.ref
        if ref in self.failures:
            return PaymentFailure(ref, self.failures[ref])
        ids = moves_by_ref[ref]
        states = [(moves.get(m) or {}).get("payment_state") or "" for m in ids]
        names = ", ".join(str(moves[m].get("name") or m) for m in ids if m in moves)
        if all(s in SETTLED for s in states) and any(s in PAID for s in states):
            state = "paid" if all(s in ("paid", "reversed") for s in states) else "in_payment"
            return PaymentResult(ref, ids, names, state, registered=ref in registered)
        # Odoo took the wizard but the entry is still open (e.g. a partial payment): a person
        # must look; paying again could pay twice.
        return PaymentFailure(ref, PermanentError(
            f"journal entry {names} is {'/'.join(states)} after the payment was registered", code="not_paid"))
