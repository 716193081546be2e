"""Bulk approval decisions and bulk finance reviews: one request, a result per item.

Thin views over :mod:`controlplane.expenses.bulk_decisions`. Each item is checked as the
single endpoint checks it (``/expenses/{eid}/decision/``, ``/expenses/{eid}/finance-review/``):
the expense must be in the caller's scope (otherwise the item answers ``not_found`` and does
not echo the id), and the approver / reviewer is asserted the same way (a session acts as its
own employee; a token names an employee of the expense's legal entity). A malformed body is a
400 problem and nothing is done; a refused item does not stop the others.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from controlplane.api.models import Scope
from controlplane.api.serializers import bulk_decisions as s
from controlplane.api.views.base import ApiView
from controlplane.api.views.expenses import ExpenseScope
from controlplane.core.errors import DomainError, NotFound
from controlplane.expenses.bulk_decisions import Decision, ItemResult, approval_decide_many, expense_finance_review_many


def _in_scope(view: ExpenseScope, items: list[dict]) -> dict:
    """``{public id: (pk, legal entity id)}`` of the named expenses the caller may touch."""
    rows = (view.expenses().filter(public_id__in={item["expense"] for item in items}).order_by()
            .values_list("public_id", "pk", "legal_entity_id"))
    return {public_id: (pk, entity_id) for public_id, pk, entity_id in rows}


def _identity(view: ExpenseScope, cache: dict, code: str | None, entity_id: int, field: str):
    """The employee ``code`` names in the entity (or the session's own), or the DomainError
    the single endpoint would raise; looked up once per (code, entity)."""
    key = (code, entity_id)
    if key not in cache:
        try:
            cache[key] = view.person(code, entity_id, field)
        except DomainError as error:
            cache[key] = error
    return cache[key]


def _not_found() -> DomainError:
    return NotFound("Expense not found.", code="not_found")


def _row(index: int, result: ItemResult | None = None, error: DomainError | None = None) -> dict:
    expense = result.expense if result is not None else None
    if result is not None and not result.ok:
        error = DomainError(message=result.message, code=result.code, status=result.status, errors=result.errors)
    return {
        "index": index,
        "status": "error" if error is not None else "ok",
        "expense": str(expense.public_id) if expense is not None else None,
        "approval_state": expense.approval_state if expense is not None and error is None else None,
        "posting_state": expense.posting_state if expense is not None and error is None else None,
        "code": error.code if error is not None else "",
        "http_status": error.status if error is not None else 200,
        "detail": error.message if error is not None else "",
        "errors": [e.as_dict() for e in error.errors] if error is not None else [],
        "exception_id": result.exception_id if result is not None else None,
    }


def _answer(rows: list[dict]) -> Response:
    rows.sort(key=lambda r: r["index"])
    failed = sum(1 for r in rows if r["status"] == "error")
    return Response({"succeeded": len(rows) - failed, "failed": failed, "results": rows})


@extend_schema(tags=["approvals"])
class ApprovalDecisionBulk(ExpenseScope, ApiView):
    required_scope = Scope.APPROVALS_WRITE

    @extend_schema(summary="Approve, return or reject the pending steps of many expenses (per-item results)",
                   description="1 to 500 items, each as the single decision endpoint takes it plus the expense id. "
                               "Every item is decided under the single endpoint's rules; a refused item "
                               "(segregation of duties, not assigned, already decided) does not stop the others.",
                   request=s.BulkDecisionIn, responses={200: s.BulkDecisionResult})
    def post(self, request):
        data = s.BulkDecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        items = data.validated_data["items"]
        scope, people, rows = _in_scope(self, items), {}, []
        decisions, indexes = [], []
        for index, item in enumerate(items):
            found = scope.get(item["expense"])
            if found is None:
                rows.append(_row(index, error=_not_found()))
                continue
            approver = _identity(self, people, item.get("approver"), found[1], "approver")
            if isinstance(approver, DomainError):
                rows.append(_row(index, error=approver))
                continue
            decisions.append(Decision(found[0], approver, item["decision"], item["comment"]))
            indexes.append(index)
        results = approval_decide_many(actor=self.caller.actor, decisions=decisions)
        rows += [_row(index, result) for index, result in zip(indexes, results, strict=True)]
        return _answer(rows)


@extend_schema(tags=["finance"])
class FinanceReviewBulk(ExpenseScope, ApiView):
    required_scope = Scope.FINANCE_WRITE

    @extend_schema(summary="Finance review of many expenses (queues their ledger postings; per-item results)",
                   description="1 to 500 expenses reviewed by one reviewer with one comment. Every item is reviewed "
                               "under the single endpoint's rules; a refused item (segregation of duties, not "
                               "approved) does not stop the others.",
                   request=s.BulkFinanceReviewIn, responses={200: s.BulkDecisionResult})
    def post(self, request):
        data = s.BulkFinanceReviewIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        scope, people, rows = _in_scope(self, v["items"]), {}, []
        groups: dict[int, tuple[object, list[tuple[int, int]]]] = {}  # reviewer (per entity) → its items
        for index, item in enumerate(v["items"]):
            found = scope.get(item["expense"])
            if found is None:
                rows.append(_row(index, error=_not_found()))
                continue
            if self.caller.user is not None:
                reviewer = self.caller.user
            else:
                reviewer = _identity(self, people, v.get("reviewer"), found[1], "reviewer")
            if isinstance(reviewer, DomainError):
                rows.append(_row(index, error=reviewer))
                continue
            groups.setdefault(id(reviewer), (reviewer, []))[1].append((index, found[0]))
        for reviewer, members in groups.values():
            results = expense_finance_review_many(actor=self.caller.actor, expense_ids=[pk for _, pk in members],
                                                  reviewer=reviewer, comment=v["comment"])
            rows += [_row(index, result) for (index, _), result in zip(members, results, strict=True)]
        return _answer(rows)
