"""``inbound.process``: run a stored inbound webhook through the same services as the API.

Message shape (JSON body)::

    {"type": "expense.upsert",   "data": {<the body of POST /api/v1/expenses/>}}
    {"type": "expense.withdraw", "data": {"source_id": "...", "reason": "..."}}

A refused message (validation, ownership, state) fails permanently: the job goes dead and
opens an exception for a person, with the raw message kept on the ``InboundWebhook`` row.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone

from controlplane.api.inbound import OPERATION
from controlplane.api.models import InboundWebhook
from controlplane.core.actors import Actor
from controlplane.core.correlation import correlation
from controlplane.core.errors import DomainError


class _Refused(Exception):
    def __init__(self, result: dict):
        self.result = result


def _upsert(actor: Actor, system, data: dict) -> dict:
    from controlplane.api.serializers.expenses import ExpenseCreate
    from controlplane.api.views.expenses import _clean
    from controlplane.expenses import services
    from controlplane.expenses.states import EDITABLE

    ser = ExpenseCreate(data=data)
    if not ser.is_valid():
        raise _Refused({"code": "invalid_request", "errors": json.loads(json.dumps(ser.errors))})
    values = _clean(dict(ser.validated_data))
    values.pop("source_system", None)
    source_id, submit = values.pop("source_id"), values.pop("submit", False)
    entity_codes = set(system.legal_entities.values_list("code", flat=True))
    if values["legal_entity"] not in entity_codes:
        raise _Refused({"code": "unknown_legal_entity", "errors": [{"field": "legal_entity", "code": "unknown"}]})
    with transaction.atomic():
        expense, created = services.expense_upsert_from_source(actor=actor, source_system=system, source_id=source_id,
                                                               data=values)
        if submit and expense.approval_state in EDITABLE:
            expense = services.expense_submit(actor=actor, expense_id=expense.pk)
    return {"expense": str(expense.public_id), "created": created, "approval_state": expense.approval_state}


def _withdraw(actor: Actor, system, data: dict) -> dict:
    from controlplane.expenses import services
    from controlplane.expenses.models import Expense

    expense = Expense.objects.filter(source_system=system, source_id=str(data.get("source_id", ""))).first()
    if expense is None:
        raise _Refused({"code": "unknown_expense", "errors": [{"field": "source_id", "code": "unknown"}]})
    expense = services.expense_withdraw(actor=actor, expense_id=expense.pk, reason=str(data.get("reason", ""))[:500])
    return {"expense": str(expense.public_id), "approval_state": expense.approval_state}


ACTIONS = {"expense.upsert": _upsert, "expense.withdraw": _withdraw}


def process(row: InboundWebhook) -> dict:
    """Apply one message; returns the result stored on the row. Raises ``_Refused``."""
    try:
        message = json.loads(bytes(row.body))
    except ValueError as exc:
        raise _Refused({"code": "invalid_json"}) from exc
    if not isinstance(message, dict) or message.get("type") not in ACTIONS or not isinstance(message.get("data"), dict):
        raise _Refused({"code": "unknown_message_type", "known": sorted(ACTIONS)})
    actor = Actor(system=row.system, reason=f"inbound webhook {row.webhook_id}")
    try:
        return ACTIONS[message["type"]](actor, row.system, message["data"])
    except DomainError as exc:
        raise _Refused({"code": exc.code, "detail": exc.message, "errors": [e.as_dict() for e in exc.errors]}) from exc


def process_batch(jobs) -> dict:
    from controlplane.sync.registry import JobOutcome

    outcomes = {}
    for job in jobs:
        row = InboundWebhook.objects.select_related("system").filter(pk=job.payload.get("inbound_webhook_id")).first()
        if row is None:
            outcomes[job.pk] = JobOutcome.cancel("inbound webhook row is gone")
            continue
        if row.state == InboundWebhook.State.PROCESSED:
            outcomes[job.pk] = JobOutcome.ok(row.result)  # ran before: idempotent
            continue
        with correlation(row.correlation_id or job.correlation_id):
            try:
                result = process(row)
            except _Refused as refused:
                InboundWebhook.objects.filter(pk=row.pk).update(
                    state=InboundWebhook.State.FAILED, result=refused.result, processed_at=timezone.now())
                outcomes[job.pk] = JobOutcome.permanent(f"inbound message refused: {refused.result.get('code')}")
                continue
        InboundWebhook.objects.filter(pk=row.pk).update(
            state=InboundWebhook.State.PROCESSED, result=result, processed_at=timezone.now())
        outcomes[job.pk] = JobOutcome.ok(result)
    return outcomes


def register() -> None:
    from controlplane.sync import registry

    registry.register(OPERATION, handler=process_batch, queue="default", batch_size=10, max_attempts=5)
