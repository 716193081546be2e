"""Posting finance-reviewed expenses to Odoo, idempotently, through the posting ledger.

    outcomes = odoo_post_expenses(actor=odoo_actor, system=odoo, items=[PostingItem(job.id, expense_id, 1)])

For a batch: claim a :class:`PostingLedger` row per reference (locked with
``select_for_update`` while claiming; ``in_flight`` with a lease while the batch is out),
build the postings from bindings, post each legal entity's mode in one connector call
(:func:`integrations.odoo.posting.post_expenses`: it finds by reference what an interrupted
attempt created before creating anything), then record the result: ledger ``posted`` with
Odoo's ids, the expense bound to its Odoo document, and ``expense_mark_posted``. A row
already ``posted`` is not sent again — running the same jobs twice creates nothing new.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from controlplane.connections.models import ExternalSystem
from controlplane.connections.services import binding_upsert
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import DomainError
from controlplane.core.memo import request_memo
from controlplane.exceptions.models import ExceptionKind, Severity
from controlplane.exceptions.services import exception_open
from controlplane.expenses.bulk import bulk_insert_with_history
from controlplane.expenses.models import Expense
from controlplane.expenses.services import expense_mark_posted
from controlplane.expenses.states import PostingState
from controlplane.odoo.binder import DjangoBinder
from controlplane.odoo.connection import odoo_client
from controlplane.odoo.models import LedgerState, PostingLedger
from controlplane.odoo.posting_build import MissingMapping, PostingBuilder
from integrations.errors import PermanentError, RetryableError, UnknownOutcomeError
from integrations.odoo.client import OdooClient
from integrations.odoo.posting import post_expenses
from integrations.odoo.types import ExpensePosting, PostingFailure, PostingResult

logger = logging.getLogger(__name__)


def ledger_lease() -> dt.timedelta:
    """How long a ledger claim holds: the sync engine's job lease (the task's hard time limit
    plus a margin, ``controlplane.sync.dispatch.lease_seconds``). The claim is taken inside
    a task holding its job's lease, so a live task never loses it, and the claim of a task
    killed with its worker frees the reference about when the job itself comes back."""
    from controlplane.sync.dispatch import lease_seconds

    return dt.timedelta(seconds=lease_seconds())


@dataclass(frozen=True)
class PostingItem:
    key: Any  # the caller's id for this item (an outbox job id)
    expense_id: int
    revision: int | None = None


@dataclass(frozen=True)
class ItemOutcome:
    kind: str  # ok | retry | defer (another worker holds the reference; not a failure) | permanent
    message: str = ""
    summary: dict = field(default_factory=dict)
    retry_after: float | None = None
    open_exception: bool = True  # False when we opened a more precise one ourselves

    @classmethod
    def ok(cls, **summary: Any) -> ItemOutcome:
        return cls("ok", summary=summary)


def odoo_post_expenses(*, actor: Actor, system: ExternalSystem, items: Sequence[PostingItem],
                       client: OdooClient | None = None) -> dict[Any, ItemOutcome]:
    """Post the expenses of ``items`` to ``system``; one outcome per item key.

    Never raises for one expense's problem; remote failures of the whole batch become
    ``retry`` (retryable) or ``permanent`` outcomes for every item still in flight.
    """
    with request_memo():  # subscriptions, ownership rules… read once for the batch
        return _post_expenses(actor, system, items, client)


def _post_expenses(actor: Actor, system: ExternalSystem, items: Sequence[PostingItem],
                   client: OdooClient | None) -> dict[Any, ItemOutcome]:
    outcomes: dict[Any, ItemOutcome] = {}
    expenses = {e.pk: e for e in Expense.objects.filter(pk__in=[i.expense_id for i in items]).select_related(
        "employee", "legal_entity", "currency").prefetch_related(
        "lines__category", "lines__tax_code", "lines__allocations__project__analytic_account",
        "lines__allocations__cost_centre__analytic_account", "lines__allocations__analytic_account", "receipts")}
    token = uuid.uuid4().hex
    todo: list[tuple[PostingItem, Expense, PostingLedger]] = []
    claimable = []
    for item in items:
        expense = expenses.get(item.expense_id)
        problem = _unpostable(expense, item)
        if problem:
            outcomes[item.key] = ItemOutcome("permanent", problem)
        else:
            claimable.append((item, expense))
    claims = _claim(actor, system, [e for _, e in claimable], token)
    for item, expense in claimable:
        ledger, busy = claims[expense.pk]
        if ledger.state == LedgerState.POSTED:
            outcomes[item.key] = _mark_posted(actor, expense, ledger)
        elif busy is not None:
            outcomes[item.key] = ItemOutcome("defer", "another worker is posting this reference", retry_after=busy)
        else:
            todo.append((item, expense, ledger))
    if not todo:
        return outcomes
    client = client or odoo_client(system)
    try:
        builder = PostingBuilder(actor=actor, system=system, client=client)
        builder.prepare([e for _, e, _ in todo])
    except (RetryableError, PermanentError) as exc:
        outcomes.update(_batch_failed(actor, todo, exc, token))
        return outcomes
    by_mode: dict[str, list[tuple[PostingItem, Expense, PostingLedger, ExpensePosting]]] = {}
    for item, expense, ledger in todo:
        try:
            posting = builder.build(expense, mode=ledger.mode)
        except MissingMapping as missing:
            outcomes[item.key] = _missing(actor, system, expense, ledger, missing, token)
            continue
        by_mode.setdefault(ledger.mode, []).append((item, expense, ledger, posting))
    for mode, group in by_mode.items():
        outcomes.update(_post_group(actor, system, client, mode, group, token))
    return outcomes


def _unpostable(expense: Expense | None, item: PostingItem) -> str:
    if expense is None:
        return f"expense {item.expense_id} does not exist"
    if expense.posting_state == PostingState.NOT_POSTED:
        return f"expense {expense.public_id} is not queued for posting"
    if item.revision is not None and expense.posting_revision not in (None, item.revision):
        return f"job is for revision {item.revision}, the expense posts revision {expense.posting_revision}"
    return ""


def _claim(actor: Actor, system: ExternalSystem, expenses: list[Expense],
           token: str) -> dict[int, tuple[PostingLedger, float | None]]:
    """Mark the ledger rows of the expenses' references in flight for us, in one short transaction.

    Rows are created on first sight (with history), locked with ``select_for_update`` where the
    database supports it, and claimed with one conditional UPDATE — the correctness mechanism
    on SQLite and PostgreSQL alike: a row in flight under another worker's live lease is not
    taken. Claims and releases are operational churn and leave no history rows; the states
    that matter (posted, failed) do. Per expense: ``(row, None)`` when claimed or already
    posted, ``(row, seconds)`` when another worker holds a live claim.
    """
    now = timezone.now()
    out: dict[int, tuple[PostingLedger, float | None]] = {}
    if not expenses:
        return out
    refs = {e.posting_reference: e for e in expenses}
    with transaction.atomic(), acting(actor, "odoo posting ledger row opened"):
        known = set(PostingLedger.objects.filter(system=system, reference__in=list(refs))
                    .values_list("reference", flat=True))
        _open_rows(system, [(ref, expense) for ref, expense in refs.items() if ref not in known])
        rows = PostingLedger.objects.select_for_update().filter(system=system, reference__in=list(refs))
        ids = [r.pk for r in rows]
        free = Q(lease_until__isnull=True) | Q(lease_until__lte=now) | ~Q(state=LedgerState.IN_FLIGHT)
        PostingLedger.objects.filter(pk__in=ids).exclude(state=LedgerState.POSTED).filter(free).update(
            state=LedgerState.IN_FLIGHT, claim_token=token, lease_until=now + ledger_lease(), attempts=F("attempts") + 1,
            updated_at=now)
        for ledger in PostingLedger.objects.filter(pk__in=ids):
            expense = refs[ledger.reference]
            if ledger.state == LedgerState.POSTED or ledger.claim_token == token:
                out[expense.pk] = (ledger, None)
            else:
                out[expense.pk] = (ledger, max((ledger.lease_until - now).total_seconds(), 1.0))
    return out


def _open_rows(system: ExternalSystem, new: list[tuple[str, Expense]]) -> None:
    """Create the ledger rows of ``new`` references (with history) in one insert; when another
    worker created one of them meanwhile, row by row, taking what exists."""
    def row(ref: str, expense: Expense) -> PostingLedger:
        return PostingLedger(system=system, reference=ref, expense=expense,
                             revision=expense.posting_revision or expense.revision,
                             mode=expense.legal_entity.posting_mode)

    if not new:
        return
    try:
        with transaction.atomic():
            bulk_insert_with_history(PostingLedger, [row(ref, expense) for ref, expense in new])
        return
    except IntegrityError:
        pass
    for ref, expense in new:
        fresh = row(ref, expense)
        PostingLedger.objects.get_or_create(
            system=system, reference=ref,
            defaults={"expense": expense, "revision": fresh.revision, "mode": fresh.mode})


def _release(actor: Actor, ledgers: list[PostingLedger], token: str, *, state: str, error: str,
             unknown: bool = False) -> None:
    """End our claims (those still ours and not posted) with ``state`` and the error seen.

    Back to ``pending`` is a conditional UPDATE (no history: the try is recorded by the
    sync engine); ``failed`` is saved row by row so its history says why.
    """
    mine = PostingLedger.objects.filter(pk__in=[r.pk for r in ledgers], claim_token=token).exclude(
        state=LedgerState.POSTED)
    if state != LedgerState.FAILED:
        changes = {"state": state, "lease_until": None, "last_error": error[:2000], "updated_at": timezone.now()}
        if unknown:
            changes["outcome_unknown"] = True
        mine.update(**changes)
        return
    with transaction.atomic(), acting(actor, f"odoo posting failed: {error[:200]}"):
        for row in mine.select_for_update():
            row.state = state
            row.lease_until = None
            row.last_error = error[:2000]
            row.save()


def _batch_failed(actor, group, exc: Exception, token: str) -> dict[Any, ItemOutcome]:
    ledgers = [g[2] for g in group]
    if isinstance(exc, RetryableError):
        _release(actor, ledgers, token, state=LedgerState.PENDING, error=str(exc),
                 unknown=isinstance(exc, UnknownOutcomeError))
        return {g[0].key: ItemOutcome("retry", str(exc), retry_after=exc.retry_after) for g in group}
    _release(actor, ledgers, token, state=LedgerState.FAILED, error=str(exc))
    return {g[0].key: ItemOutcome("permanent", str(exc)) for g in group}


def _missing(actor, system, expense, ledger, missing: MissingMapping, token: str) -> ItemOutcome:
    _release(actor, [ledger], token, state=LedgerState.FAILED, error=missing.message)
    with transaction.atomic():
        exception_open(actor=actor, kind=ExceptionKind.MISSING_MAPPING, severity=Severity.HIGH,
                       title=f"Cannot post {expense.posting_reference}: {missing.message}"[:255],
                       detail=missing.message, subject=missing.subject or expense, legal_entity=expense.legal_entity,
                       system=system, payload={"reference": expense.posting_reference, "expense_id": expense.pk},
                       dedupe_key=missing.dedupe_key)
    return ItemOutcome("permanent", missing.message, open_exception=False)


def _post_group(actor, system, client, mode, group, token) -> dict[Any, ItemOutcome]:
    binder = DjangoBinder(actor=actor, system=system, deferred=True)
    for _item, expense, _ledger, posting in group:
        binder.expect(posting.ref, expense)
        if mode == "expense" and len(posting.lines) > 1:
            for n, line in enumerate(expense.lines.all(), 1):
                binder.expect(f"{posting.ref}/{n}", line)
    try:
        results = post_expenses(client, [g[3] for g in group], mode=mode, binder=binder)
    except (RetryableError, PermanentError) as exc:
        logger.info("odoo posting batch of %s failed: %s", len(group), exc)
        binder.flush()  # what was created before the failure stays found by binding
        return _batch_failed(actor, group, exc, token)
    binder.flush()
    out = {}
    # One commit for the batch's bookkeeping, one savepoint per expense (its ledger row, its
    # binding and its lifecycle transition stand or fall together). Should the commit fail,
    # the claims lapse with their lease and the next try finds the documents by reference.
    with transaction.atomic():
        for (item, expense, ledger, _posting), result in zip(group, results, strict=True):
            with transaction.atomic():
                out[item.key] = _settle(actor, system, expense, ledger, result, token)
    return out


def _settle(actor, system, expense, ledger, result, token: str) -> ItemOutcome:
    """Record one expense's answer from Odoo: failure, held unposted, or posted."""
    if isinstance(result, PostingFailure):
        state = LedgerState.PENDING if result.retryable else LedgerState.FAILED
        _release(actor, [ledger], token, state=state, error=str(result.error))
        return ItemOutcome("retry" if result.retryable else "permanent", str(result.error))
    if not result.posted:
        _record(actor, system, expense, ledger, result, posted=False)
        _release(actor, [ledger], token, state=LedgerState.PENDING,
                 error=f"Odoo holds the document in state {result.state!r}, not posted yet")
        return ItemOutcome("retry", f"not posted yet in Odoo (state {result.state})")
    ledger = _record(actor, system, expense, ledger, result, posted=True)
    return _mark_posted(actor, expense, ledger)


def _record(actor, system, expense, ledger, result: PostingResult, *, posted: bool) -> PostingLedger:
    """Write what Odoo holds on the ledger row, and bind the expense to its accounting document."""
    with transaction.atomic(), acting(actor, f"odoo posting {'posted' if posted else 'read'}: {result.document_name}"):
        row = PostingLedger.objects.select_for_update().get(pk=ledger.pk)
        row.odoo_model = result.odoo_model
        row.odoo_ids = list(result.odoo_ids)
        row.move_ids = list(result.move_ids)
        row.document_name = result.document_name[:255]
        row.odoo_state = result.state
        row.payment_state = result.payment_state
        row.amount_total = result.amount_total
        row.currency_code = result.currency_code[:3]
        if posted:
            row.state = LedgerState.POSTED
            row.lease_until = None
            row.last_error = ""
            row.posted_at = row.posted_at or timezone.now()
        row.save()
        if result.move_ids:
            try:
                with transaction.atomic():
                    binding_upsert(actor=actor, system=system, record=expense, external_model="account.move",
                                   external_id=result.move_ids[0], external_ref=result.ref,
                                   data={"name": result.document_name, "state": result.state})
            except IntegrityError:
                # Odoo 19 posts one entry per employee for a batch: a shared entry is bound to
                # nobody; the ledger row keeps its id and the expense is bound to its hr.expense.
                logger.debug("account.move#%s is shared; %s not bound to it", result.move_ids[0], result.ref)
    return row


def _mark_posted(actor: Actor, expense: Expense, ledger: PostingLedger) -> ItemOutcome:
    """Tell the lifecycle; safe to repeat. A refusal is permanent for this job."""
    odoo_ref = ",".join(f"{ledger.odoo_model}:{i}" for i in ledger.odoo_ids)[:255]
    try:
        expense_mark_posted(actor=actor, expense_id=expense.pk, revision=ledger.revision, odoo_ref=odoo_ref,
                            document_name=ledger.document_name, amount_total=ledger.amount_total)
    except DomainError as exc:
        return ItemOutcome("permanent", f"posted in Odoo as {ledger.document_name}, but: {exc}")
    return ItemOutcome.ok(reference=ledger.reference, document=ledger.document_name, odoo_ids=ledger.odoo_ids,
                          amount_total=str(ledger.amount_total), currency=ledger.currency_code)
