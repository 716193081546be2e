"""Creating expenses from a source and amending them: every applied change is a new revision
with a JSON snapshot.

- In draft / returned: the content changes, nothing else.
- In approval, material change (employee, currency, line date / category / amount / tax /
  allocation): policy checks run again, approvals reset and a new chain is frozen.
- Immaterial change (purpose, merchant, description): approvals are kept.
- Once posting is queued or done, a material change is not applied: it is kept as an
  unapplied revision and an ``amendment_after_posting`` exception goes to a person, so the
  ledger never receives a second posting.
"""

from __future__ import annotations

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from controlplane.approvals.services import chain_freeze
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import Conflict, NotAllowed
from controlplane.expenses.content import (
    changed_keys,
    content_from_expense,
    material_view,
    parse_content,
    save_pending_lines,
    snapshot,
    write_content,
)
from controlplane.expenses.models import Expense, ExpenseRevision
from controlplane.expenses.policy import run_checks
from controlplane.expenses.states import IN_APPROVAL, POSTING_STARTED, TERMINAL
from controlplane.expenses.workflow import apply_transition, check_writer, emit, get_expense

_ACTOR_SYSTEM = object()
_LOOK_UP = object()


def _jsonable(data: dict) -> dict:
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))


def expense_upsert_from_source(*, actor: Actor, source_system, source_id: str, data: dict,
                               existing_id=_LOOK_UP) -> tuple[Expense, bool]:
    """Create the expense ``source_system`` knows as ``source_id`` (a draft, revision 1), or
    amend it when it exists. Returns ``(expense, created)``. Replaying the same data changes
    nothing.

    ``existing_id``: a caller that has just looked the reference up passes what it found (the
    pk, or None) to spare the second lookup; a reference created meanwhile still ends in an
    amendment (the unique constraint catches it)."""
    if actor.system is not None and getattr(actor.system, "pk", None) != source_system.pk:
        raise NotAllowed(f"{actor.system_code} may not write expenses of {source_system.code}.",
                         code="not_system_of_record")
    if existing_id is _LOOK_UP:
        # (values_list, not .only(): deferring the FSM fields recurses in ConcurrentTransitionMixin)
        existing_id = (Expense.objects.filter(source_system=source_system, source_id=source_id)
                       .values_list("pk", flat=True).first())
    if existing_id is not None:
        return expense_amend(actor=actor, expense_id=existing_id, data=data, writer=source_system), False
    content = parse_content(data)
    try:
        with transaction.atomic(), acting(actor, actor.reason or f"created from {source_system.code}:{source_id}"):
            expense = Expense(source_system=source_system, source_id=str(source_id))
            write_content(expense, content)
            expense.save()
            save_pending_lines(expense)
            ExpenseRevision.objects.create(expense=expense, revision=1, snapshot=snapshot(content), material=True,
                                           actor_label=actor.label()[:255], reason="created")
    except IntegrityError:
        # The same source id arrived twice at once: the other request created it.
        existing = Expense.objects.filter(source_system=source_system, source_id=source_id).first()
        if existing is None:
            raise
        return expense_amend(actor=actor, expense_id=existing.pk, data=data, writer=source_system), False
    return expense, True


def expense_amend(*, actor: Actor, expense_id, data: dict, writer=_ACTOR_SYSTEM) -> Expense:
    """Apply an amendment from the source (``writer``, by default ``actor.system``) as a new
    revision; see the module docstring for what each case does. Refuses other writers
    (``not_system_of_record``) and closed expenses (Conflict ``expense_closed``)."""
    writer = actor.system if writer is _ACTOR_SYSTEM else writer
    expense = get_expense(expense_id)
    check_writer(actor, expense, writer=writer, payload=_jsonable(data))
    with transaction.atomic():
        expense = get_expense(expense_id, lock=True)
        if expense.approval_state in TERMINAL:
            raise Conflict(f"Expense {expense.public_id} is {expense.approval_state}; it cannot be amended.",
                           code="expense_closed")
        current = content_from_expense(expense)
        new = parse_content(data, current)
        before, after = snapshot(current), snapshot(new)
        if before == after:
            return expense
        material = material_view(before) != material_view(after)
        changed = changed_keys(before, after)
        if material and expense.posting_state in POSTING_STARTED:
            _hold_after_posting(actor, expense, before, after, changed)
            return expense
        rerouted = material and expense.approval_state in IN_APPROVAL
        reason = actor.reason or ("material amendment" if material else "amendment") + f" ({', '.join(changed)})"
        if rerouted:
            reason += ": approvals reset, re-routed"
        with acting(actor, reason):
            write_content(expense, new)
            expense.revision += 1
            if rerouted:
                run_checks(expense)
                apply_transition(expense, expense.reroute)
            expense.save()
            if rerouted:
                chain_freeze(expense=expense)
            ExpenseRevision.objects.create(expense=expense, revision=expense.revision, snapshot=after,
                                           material=material, changed=changed, actor_label=actor.label()[:255],
                                           reason=reason)
            emit(actor, "expense.amended", expense, material=material, rerouted=rerouted, changed=changed)
    return expense


def _hold_after_posting(actor: Actor, expense: Expense, before: dict, after: dict, changed: list[str]) -> None:
    from controlplane.exceptions.models import ExceptionKind, Severity
    from controlplane.exceptions.services import exception_open

    digest = hashlib.sha256(json.dumps(after, sort_keys=True).encode()).hexdigest()[:16]
    reason = f"material amendment after posting held for review ({', '.join(changed)})"
    with acting(actor, reason):
        ExpenseRevision.objects.create(expense=expense, revision=expense.revision, snapshot=after, material=True,
                                       changed=changed, applied=False, actor_label=actor.label()[:255], reason=reason)
        exception_open(
            actor=actor.because(reason), kind=ExceptionKind.AMENDMENT_AFTER_POSTING, severity=Severity.HIGH,
            title=f"Expense {expense.public_id} amended after posting",
            detail=f"The source changed {', '.join(changed)} of revision {expense.revision} after it was sent to the "
                   "ledger. The amendment was not applied; correct it in the ledger (credit note) if it stands.",
            subject=expense, legal_entity=expense.legal_entity, department=expense.employee.department,
            system=expense.source_system, payload={"before": before, "after": after},
            dedupe_key=f"amend-after-posting:{expense.pk}:{digest}",
        )
