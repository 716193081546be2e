"""Many approval decisions or finance reviews in one call, with a result per item.

Each item obeys every rule of the single services (:func:`approval_decide`,
:func:`expense_finance_review`) because it runs their shared bodies (``decide_locked``,
``review_locked``): segregation of duties, ``not_assigned``, Conflict when decided
meanwhile, events, the posting job, history with actor and reason.

What is shared instead of repeated per item: items run in chunks, one transaction per chunk;
the chunk's expenses are locked in one ``SELECT … FOR UPDATE`` ordered by id (two bulk calls
over overlapping expenses lock in the same order, so they cannot deadlock on them); the
reviewer's identities are looked up once; reads every item repeats (webhook subscriptions,
the entity's Odoo system) are made once per call (``core.memo``). Each item runs in its own
savepoint, so one item's failure undoes that item only. Segregation-of-duties refusals are recorded as
``sod_conflict`` exceptions after the chunk's transaction ends, exactly as the single path
records them after its rolled-back transaction (they survive whatever happens to the chunk).

Only domain errors (:class:`DomainError`) become per-item errors; anything else is a bug or
a database failure and propagates, rolling back the current chunk (earlier chunks stay
committed, and each of their items is then already decided: a retry answers Conflict for
them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from controlplane.core.actors import Actor, acting
from controlplane.core.errors import DomainError, FieldProblem, NotFound
from controlplane.core.memo import request_memo
from controlplane.expenses.models import Expense
from controlplane.expenses.services import Reviewer, decide_locked, decision_reason, review_locked, review_reason
from controlplane.expenses.sod import SodRefusal, record_refusal
from controlplane.expenses.workflow import expense_query

CHUNK_SIZE = 100

__all__ = ["CHUNK_SIZE", "Decision", "ItemResult", "approval_decide_many", "expense_finance_review_many"]


@dataclass(frozen=True)
class Decision:
    """One approval decision: the expense (primary key or public id), the approver (an
    Employee), ``approve`` / ``return`` / ``reject`` and a comment."""

    expense_id: object
    approver: object
    decision: str
    comment: str = ""


@dataclass
class ItemResult:
    """The outcome of one item, in input order. ``ok`` with the updated ``expense``, or an
    error with the ``code``, ``message``, HTTP ``status`` and field problems the single
    service would have raised (``exception_id``: the recorded ``sod_conflict``)."""

    index: int
    expense_id: object
    ok: bool
    expense: Expense | None = None
    code: str = ""
    message: str = ""
    status: int = 200
    errors: list[FieldProblem] = field(default_factory=list)
    exception_id: int | None = None

    @classmethod
    def failed(cls, index: int, expense_id, error: DomainError, expense: Expense | None = None) -> ItemResult:
        return cls(index=index, expense_id=expense_id, ok=False, expense=expense, code=error.code,
                   message=error.message, status=error.status, errors=list(error.errors),
                   exception_id=getattr(error, "exception_id", None))


def approval_decide_many(*, actor: Actor, decisions: Iterable, chunk_size: int = CHUNK_SIZE) -> list[ItemResult]:
    """Decide many pending steps: ``decisions`` are :class:`Decision` or
    ``(expense_id, approver, decision, comment)`` tuples. Returns one :class:`ItemResult` per
    decision, in order; an expense named twice is decided twice, in order."""
    items = [d if isinstance(d, Decision) else Decision(*d) for d in decisions]

    def work(expense: Expense, item: Decision) -> None:
        decide_locked(actor=actor, expense=expense, approver=item.approver, decision=item.decision,
                      comment=item.comment)

    return _run(actor, [(d.expense_id, d) for d in items], work,
                reason=lambda d: decision_reason(d.decision, d.comment), chunk_size=chunk_size)


def expense_finance_review_many(*, actor: Actor, expense_ids: Iterable, reviewer, comment: str = "",
                                chunk_size: int = CHUNK_SIZE) -> list[ItemResult]:
    """Finance-review many approved expenses as ``reviewer`` (a User or an Employee), each
    queuing its one ledger posting. Returns one :class:`ItemResult` per id, in order."""
    who = Reviewer.of(actor, reviewer)

    def work(expense: Expense, _item) -> None:
        review_locked(actor=actor, expense=expense, reviewer=who, comment=comment)

    reason = review_reason(comment)
    return _run(actor, [(eid, None) for eid in expense_ids], work, reason=lambda _item: reason,
                chunk_size=chunk_size)


def _run(actor: Actor, items: Sequence[tuple[object, object]], work: Callable[[Expense, object], None], *,
         reason: Callable[[object], str], chunk_size: int) -> list[ItemResult]:
    results: list[ItemResult] = []
    with request_memo():  # subscriptions, posting targets… read once per call
        for start in range(0, len(items), max(1, chunk_size)):
            results += _run_chunk(actor, items[start:start + chunk_size], start, work, reason)
    return results


def _key(expense_id) -> tuple[str, object]:
    if isinstance(expense_id, uuid.UUID):
        return "public_id", expense_id
    if isinstance(expense_id, int) or (isinstance(expense_id, str) and expense_id.isdigit()):
        return "pk", int(expense_id)
    try:
        return "public_id", uuid.UUID(str(expense_id))
    except ValueError:
        return "invalid", str(expense_id)


def _lock(keys: list[tuple[str, object]]) -> dict[tuple[str, object], Expense]:
    """The chunk's expenses, locked in one query in id order, by both of their keys."""
    pks = {v for k, v in keys if k == "pk"}
    public_ids = {v for k, v in keys if k == "public_id"}
    if not pks and not public_ids:
        return {}
    # of=("self",): lock the expense rows only (see workflow.get_expense).
    rows = (expense_query().select_for_update(of=("self",))
            .filter(Q(pk__in=pks) | Q(public_id__in=public_ids)).order_by("pk"))
    found: dict[tuple[str, object], Expense] = {}
    for expense in rows:
        found[("pk", expense.pk)] = found[("public_id", expense.public_id)] = expense
    return found


def _run_chunk(actor: Actor, chunk, offset: int, work, reason) -> list[ItemResult]:
    keys = [_key(eid) for eid, _ in chunk]
    results: list[ItemResult | None] = [None] * len(chunk)
    refusals: list[tuple[int, SodRefusal]] = []
    with transaction.atomic():
        locked = _lock(keys)
        for i, ((expense_id, item), key) in enumerate(zip(chunk, keys, strict=True)):
            expense = locked.get(key)
            if expense is None:
                results[i] = ItemResult.failed(offset + i, expense_id,
                                               NotFound(f"Expense {expense_id} not found.", code="expense_not_found"))
                continue
            try:
                with transaction.atomic(), acting(actor, reason(item)):
                    work(expense, item)
            except SodRefusal as refusal:
                refusals.append((i, refusal))
                _reload(locked, expense)
            except DomainError as error:
                results[i] = ItemResult.failed(offset + i, expense_id, error, expense)
                _reload(locked, expense)
            else:
                results[i] = ItemResult(index=offset + i, expense_id=expense_id, ok=True, expense=expense)
    for i, refusal in refusals:
        results[i] = ItemResult.failed(offset + i, chunk[i][0], record_refusal(actor, refusal), refusal.expense)
    return results  # type: ignore[return-value]


def _reload(locked: dict, expense: Expense) -> None:
    """The savepoint rolled back what the item wrote; the in-memory expense may still carry
    a transition. Read it again (it stays locked by this transaction) so that a later item
    on the same expense sees the database's state."""
    fresh = expense_query().get(pk=expense.pk)
    locked[("pk", fresh.pk)] = locked[("public_id", fresh.public_id)] = fresh
