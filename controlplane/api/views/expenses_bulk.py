"""Bulk create or amend of expenses: one request, a result per item."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from controlplane.api.models import Scope
from controlplane.api.serializers import expenses as s
from controlplane.api.views.base import ApiView
from controlplane.api.views.expenses import ExpenseScope, upsert_one
from controlplane.core.errors import DomainError, FieldProblem, ValidationFailed


@extend_schema(tags=["expenses"])
class ExpenseBulk(ExpenseScope, ApiView):
    required_scope = Scope.EXPENSES_WRITE

    @extend_schema(summary="Create or amend many expenses (per-item results)", request=s.BulkExpenseCreate,
                   responses={200: s.BulkExpenseResult})
    def post(self, request):
        items = request.data.get("items") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 500:
            raise ValidationFailed(errors=[FieldProblem("items", "invalid", "A list of 1 to 500 expenses.")])
        results, lines = [], 0
        for index, raw in enumerate(items):
            item = s.ExpenseCreate(data=raw)
            if not item.is_valid():
                errs = [{"field": f, "code": getattr(m, "code", "invalid"), "detail": str(m)}
                        for f, msgs in item.errors.items() for m in (msgs if isinstance(msgs, list) else [msgs])]
                results.append({"index": index, "status": "error", "id": None, "errors": errs})
                continue
            try:
                expense, created = upsert_one(self, item.validated_data)
            except DomainError as exc:
                errs = [e.as_dict() for e in exc.errors] or [{"field": "", "code": exc.code, "detail": exc.message}]
                results.append({"index": index, "status": "error", "id": None, "errors": errs})
                continue
            lines += len(item.validated_data["lines"])
            results.append({"index": index, "status": "created" if created else "updated",
                            "id": str(expense.public_id), "errors": []})
        counts = {k: sum(1 for r in results if r["status"] == v)
                  for k, v in (("created", "created"), ("updated", "updated"), ("failed", "error"))}
        return Response({**counts, "lines": lines, "results": results})
