"""Feed reimbursements to Odoo: ``odoo.register_payment``, the trigger and its handler.

An expense is posted in Odoo (the posting job) and reimbursed by payroll or the bank
(``expense_mark_reimbursed``), in either order. Whichever of the two completes the pair
calls :func:`odoo_payment_enqueue` inside its own transaction, which writes the one outbox
job (key ``odoo.register_payment:<expense id>:<payment reference>``). The handler registers
the payment in batches through :func:`integrations.odoo.payments.register_payments`, which
reads each entry's ``payment_state`` before paying, so a retry after a lost answer pays
nothing twice. A permanent refusal goes dead with a ``sync_dead`` exception (sync engine);
the expense then stays ``reimbursed_not_paid`` in reconciliation, as it should.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection

from django.db import transaction
from django.utils import timezone

from controlplane.core.actors import Actor, acting
from controlplane.core.correlation import correlation
from controlplane.expenses.models import Expense
from controlplane.expenses.states import PaymentState, PostingState
from controlplane.odoo.binder import DjangoBinder
from controlplane.odoo.connection import odoo_client
from controlplane.odoo.models import LedgerState, PostingLedger
from controlplane.sync import registry
from controlplane.sync.models import SyncMode
from controlplane.sync.registry import JobOutcome
from integrations.errors import PermanentError, RetryableError
from integrations.odoo.client import use_correlation_id
from integrations.odoo.payments import PaymentFailure, PaymentRequest, register_payments

logger = logging.getLogger(__name__)

PAY = "odoo.register_payment"
ODOO_PAID = ("paid", "in_payment")
# Like posting, a payment outlasts an Odoo outage (back-off base 2 s, cap 1 h: about five
# hours) before it goes dead and a person is asked.
PAY_MAX_ATTEMPTS = 20


def payment_key(expense: Expense) -> str:
    """The job's idempotency key: one job per expense and payment reference."""
    key = f"{PAY}:{expense.pk}:{expense.payment_reference}"
    if len(key) > 255:
        key = f"{PAY}:{expense.pk}:sha256:{hashlib.sha256(expense.payment_reference.encode()).hexdigest()}"
    return key


def odoo_payment_enqueue(*, actor: Actor, expense: Expense):
    """Queue the Odoo payment of ``expense`` once it is both posted and reimbursed; call it
    in the transaction that completes the pair (``expense_mark_posted`` /
    ``expense_mark_reimbursed``), with the expense saved. Returns the job, or None when the
    pair is not complete yet or Odoo already shows the entry paid (read back). Idempotent."""
    from controlplane.expenses.workflow import posting_target
    from controlplane.sync.services import outbox_enqueue

    if expense.posting_state != PostingState.POSTED or expense.payment_state != PaymentState.PAID:
        return None
    ledger = (PostingLedger.objects.filter(expense=expense, state=LedgerState.POSTED)
              .select_related("system").order_by("-pk").first())
    if ledger is not None and ledger.payment_state in ODOO_PAID:
        return None  # Odoo paid it itself (e.g. Odoo owns the payment stage): nothing to feed
    target = ledger.system if ledger is not None else posting_target(expense)
    return outbox_enqueue(
        actor=actor, target=target, operation=PAY, subject=expense,
        payload={"expense_id": expense.pk, "reference": expense.posting_reference,
                 "payment_ref": expense.payment_reference},
        idempotency_key=payment_key(expense),
    )


def register_payment_handler(jobs) -> dict[int, JobOutcome]:
    """Register the payments of a batch of ``odoo.register_payment`` jobs (same target)."""
    if jobs and jobs[0].target is None:
        return {j.id: JobOutcome.retry("no enabled Odoo system serves this legal entity yet") for j in jobs}
    system = jobs[0].target
    actor = Actor(system=system, reason="odoo worker: payment")
    cid = next((j.correlation_id for j in jobs if j.correlation_id), None)
    with correlation(cid) as value, use_correlation_id(value):
        return odoo_register_payments(actor=actor, system=system, jobs=jobs)


def odoo_register_payments(*, actor: Actor, system, jobs) -> dict[int, JobOutcome]:
    """The body of the handler: one outcome per job. Never raises for one expense's problem."""
    expenses = Expense.objects.in_bulk([int(j.payload["expense_id"]) for j in jobs])
    ledgers = {row.expense_id: row for row in PostingLedger.objects.filter(
        system=system, expense_id__in=list(expenses), state=LedgerState.POSTED).order_by("pk")}
    outcomes: dict[int, JobOutcome] = {}
    requests: dict[str, PaymentRequest] = {}
    jobs_by_ref: dict[str, list] = {}
    for job in jobs:
        expense = expenses.get(int(job.payload["expense_id"]))
        if expense is None:
            outcomes[job.id] = JobOutcome.permanent(f"expense {job.payload['expense_id']} does not exist")
            continue
        if expense.payment_state != PaymentState.PAID or expense.posting_state != PostingState.POSTED:
            outcomes[job.id] = JobOutcome.cancel(
                f"expense {expense.public_id} is {expense.posting_state}/{expense.payment_state}: nothing to pay")
            continue
        ledger = ledgers.get(expense.pk)
        ref = ledger.reference if ledger is not None else expense.posting_reference
        mode = ledger.mode if ledger is not None else expense.legal_entity.posting_mode
        moves = tuple(int(m) for m in (ledger.move_ids if ledger is not None else []) or [])
        paid_on = timezone.localdate(expense.paid_at) if expense.paid_at else None
        requests.setdefault(ref, PaymentRequest(ref=ref, mode=mode, move_ids=moves, payment_date=paid_on))
        jobs_by_ref.setdefault(ref, []).append(job)
    if not requests:
        return outcomes
    try:
        results = register_payments(odoo_client(system), list(requests.values()),
                                    binder=DjangoBinder(actor=actor, system=system),
                                    is_reimbursed=lambda refs: _reimbursed_refs(system, refs))
    except RetryableError as exc:
        return {**outcomes, **{j.id: JobOutcome.retry(exc) for js in jobs_by_ref.values() for j in js}}
    except PermanentError as exc:
        return {**outcomes, **{j.id: JobOutcome.permanent(exc) for js in jobs_by_ref.values() for j in js}}
    for result in results:
        if isinstance(result, PaymentFailure):
            outcome = (JobOutcome.retry(result.error) if result.error.retryable
                       else JobOutcome.permanent(result.error))
        else:
            _record(actor, system, result.ref, result.payment_state)
            outcome = JobOutcome.ok({"reference": result.ref, "documents": result.document_name,
                                     "payment_state": result.payment_state, "registered": result.registered})
        for job in jobs_by_ref[result.ref]:
            outcomes[job.id] = outcome
    return outcomes


def _reimbursed_refs(system, refs: Collection[str]) -> set[str]:
    """Which of ``refs`` (posting references on ``system``) are reimbursed here."""
    return set(PostingLedger.objects.filter(system=system, reference__in=list(refs),
                                            expense__payment_state=PaymentState.PAID)
               .values_list("reference", flat=True))


def _record(actor: Actor, system, reference: str, payment_state: str) -> None:
    """What Odoo now holds, on the ledger row (with history)."""
    with transaction.atomic(), acting(actor, f"odoo payment registered: {payment_state}"):
        row = PostingLedger.objects.select_for_update().filter(system=system, reference=reference).first()
        if row is not None and row.payment_state != payment_state:
            row.payment_state = payment_state
            row.read_back_at = timezone.now()
            row.save(update_fields=["payment_state", "read_back_at", "updated_at"])


def register_payments_operation() -> None:
    """Register ``odoo.register_payment`` with the sync engine (``OdooConfig.ready``): batch
    windows like postings (the SyncPolicy row is seeded by migration 0002)."""
    registry.register(PAY, handler=register_payment_handler, queue="odoo", batch_size=50,
                      max_attempts=PAY_MAX_ATTEMPTS, mode=SyncMode.BATCH)
