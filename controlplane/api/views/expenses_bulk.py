"""Bulk create or amend of expenses: one request, a result per item (set-based: see
``controlplane.expenses.ingest_bulk``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from controlplane.api.models import Scope
from controlplane.api.serializers import expenses as s
from controlplane.api.views.base import ApiView
from controlplane.api.views.expenses import ExpenseScope, _clean, _source_system
from controlplane.core.errors import DomainError, FieldProblem, ValidationFailed
from controlplane.expenses.ingest_bulk import ERROR, expenses_create_many


def _serializer_errors(detail) -> list[dict]:
    return [{"field": f, "code": getattr(m, "code", "invalid"), "detail": str(m)}
            for f, msgs in detail.items() for m in (msgs if isinstance(msgs, list) else [msgs])]


def _domain_errors(exc: DomainError) -> list[dict]:
    return [e.as_dict() for e in exc.errors] or [{"field": "", "code": exc.code, "detail": exc.message}]


@extend_schema(tags=["expenses"])
class ExpenseBulk(ExpenseScope, ApiView):
    required_scope = Scope.EXPENSES_WRITE

    @extend_schema(summary="Create or amend many expenses (per-item results)", request=s.BulkExpenseCreate,
                   responses={200: s.BulkExpenseResult})
    def post(self, request):
        items = request.data.get("items") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 500:
            raise ValidationFailed(errors=[FieldProblem("items", "invalid", "A list of 1 to 500 expenses.")])
        results: list[dict | None] = [None] * len(items)
        groups: dict = {}  # source system → [(index, data)], in request order
        systems: dict = {}
        # One serializer validates every item, as a list serializer would (its fields are built once).
        validator = s.ExpenseCreate()
        for index, raw in enumerate(items):
            try:
                data = _clean(dict(validator.run_validation(raw)))
            except serializers.ValidationError as exc:
                detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
                results[index] = {"index": index, "status": ERROR, "id": None, "errors": _serializer_errors(detail)}
                continue
            code = data.pop("source_system", None)
            try:
                if code not in systems:
                    systems[code] = _source_system(self.caller, code)
                system = systems[code]
            except DomainError as exc:
                results[index] = {"index": index, "status": ERROR, "id": None, "errors": _domain_errors(exc)}
                continue
            groups.setdefault(system, []).append((index, data))
        caller, lines = self.caller, 0
        for system, batch in groups.items():
            outcomes = expenses_create_many(
                actor=caller.actor, source_system=system, items=[data for _, data in batch],
                entity_ids=None if caller.all_entities else caller.entity_ids, visible=self.expenses)
            for (index, data), outcome in zip(batch, outcomes, strict=True):
                if outcome.status == ERROR:
                    results[index] = {"index": index, "status": ERROR, "id": None,
                                      "errors": _domain_errors(outcome.error)}
                    continue
                lines += len(data["lines"])
                results[index] = {"index": index, "status": outcome.status, "id": str(outcome.expense.public_id),
                                  "errors": []}
        counts = {k: sum(1 for r in results if r["status"] == v)
                  for k, v in (("created", "created"), ("updated", "updated"), ("failed", ERROR))}
        return Response({**counts, "lines": lines, "results": results})
