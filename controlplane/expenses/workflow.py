"""Building blocks the expense services share: locking, guarded transitions, events, the
posting job, the writer (system-of-record) check."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django_fsm import can_proceed

from controlplane.core.actors import Actor
from controlplane.core.errors import Conflict, FieldProblem, NotAllowed, NotFound
from controlplane.expenses.models import Expense

POST_OPERATION = "odoo.post_expense"


def expense_query():
    return Expense.objects.select_related(
        "employee", "employee__department", "legal_entity", "legal_entity__base_currency", "currency", "source_system"
    )


def get_expense(expense_id, *, lock: bool = False) -> Expense:
    """The expense by primary key or public id (UUID); locked for update when ``lock``."""
    qs = expense_query()
    if lock:
        # of=("self",): lock the expense row only (PostgreSQL refuses FOR UPDATE on the
        # nullable side of outer joins).
        qs = qs.select_for_update(of=("self",))
    if isinstance(expense_id, uuid.UUID) or (isinstance(expense_id, str) and not expense_id.isdigit()):
        found = qs.filter(public_id=expense_id).first()
    else:
        found = qs.filter(pk=int(expense_id)).first()
    if found is None:
        raise NotFound(f"Expense {expense_id} not found.", code="expense_not_found")
    return found


def apply_transition(expense: Expense, method: Callable, *args, **kwargs) -> None:
    """Run a transition if its source state and guards allow it, else raise Conflict."""
    if not can_proceed(method):
        raise Conflict(
            f"Expense {expense.public_id} is {expense.approval_state}/{expense.posting_state}/"
            f"{expense.payment_state}: '{method.__name__}' is not possible now.",
            code="invalid_transition",
        )
    method(*args, **kwargs)


def event_payload(expense: Expense, **extra) -> dict:
    payload = {
        "expense": str(expense.public_id),
        "source_system": expense.source_system.code,
        "source_id": expense.source_id,
        "employee": expense.employee.code,
        "legal_entity": expense.legal_entity.code,
        "revision": expense.revision,
        "approval_state": expense.approval_state,
        "posting_state": expense.posting_state,
        "payment_state": expense.payment_state,
        "currency": expense.currency.code,
        "total_amount": str(expense.total_amount),
        "total_amount_base": None if expense.total_amount_base is None else str(expense.total_amount_base),
        "policy_flagged": expense.policy_flagged,
    }
    payload.update(extra)
    return payload


def emit(actor: Actor, event_type: str, expense: Expense, **extra) -> None:
    """Record a domain event in the current transaction (delivery happens after commit)."""
    from controlplane.events.services import event_record

    event_record(actor=actor, event_type=event_type, subject=expense, payload=event_payload(expense, **extra),
                 legal_entity=expense.legal_entity)


def posting_target(expense: Expense):
    """The entity's enabled Odoo system (None when none is configured: the job waits for one);
    memoized within a bulk call."""
    from controlplane.connections.models import ExternalSystem, SystemKind
    from controlplane.core.memo import memoized

    entity_id = expense.legal_entity_id
    return memoized(("posting_target", entity_id), lambda: ExternalSystem.objects.filter(
        kind=SystemKind.ODOO, enabled=True, legal_entities=entity_id).order_by("pk").first())


def enqueue_posting(actor: Actor, expense: Expense):
    """The one posting job of the expense: keyed by its posting revision, so a replay or a
    later amendment can never create a second one."""
    from controlplane.sync.services import outbox_enqueue

    return outbox_enqueue(
        actor=actor,
        target=posting_target(expense),
        operation=POST_OPERATION,
        subject=expense,
        payload={"expense_id": expense.pk, "revision": expense.posting_revision, "reference": expense.posting_reference},
        idempotency_key=f"{POST_OPERATION}:{expense.pk}:r{expense.posting_revision}",
    )


def check_writer(actor: Actor, expense: Expense, *, writer=None, field_group: str = "content", stage: str = "",
                 payload: dict | None = None) -> None:
    """Refuse a write from a system that does not own it. Where an ownership rule exists for
    ``expense`` / ``field_group`` / ``stage`` it decides (``ownership_check``: may open an
    exception); otherwise the expense's source system owns its content. Call before the
    write transaction."""
    from controlplane.connections.ownership import owner_of, ownership_check

    if owner_of("expense", field_group, stage) is not None:
        ownership_check(actor=actor, writer=writer, object_kind="expense", field_groups=(field_group,), stage=stage,
                        payload=payload, subject=expense, legal_entity=expense.legal_entity)
        return
    if field_group == "content" and (writer is None or writer.pk != expense.source_system_id):
        name = writer.code if writer is not None else "the control plane"
        raise NotAllowed(
            f"{name} may not change expense {expense.public_id}: its content is owned by {expense.source_system.code}.",
            code="not_system_of_record",
            errors=[FieldProblem("source_system", "not_system_of_record", "Only the source system amends an expense.")],
        )
