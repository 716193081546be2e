"""Reads over expenses for the API, the admin and the workers."""

from __future__ import annotations

from django.db.models import QuerySet

from controlplane.approvals.models import ApprovalStep
from controlplane.approvals.selectors import pending_steps_for
from controlplane.expenses.models import Expense


def expense_list(*, legal_entities=None, source_system=None, employee=None, approval_state: str | None = None,
                 posting_state: str | None = None, payment_state: str | None = None,
                 flagged: bool | None = None) -> QuerySet[Expense]:
    """Expenses in scope, newest first. ``legal_entities`` (ids or records) limits to those
    entities (a token's scope); ``source_system`` to one system's expenses."""
    qs = Expense.objects.select_related("employee", "legal_entity", "currency", "source_system")
    if legal_entities is not None:
        qs = qs.filter(legal_entity__in=legal_entities)
    if source_system is not None:
        qs = qs.filter(source_system=source_system)
    if employee is not None:
        qs = qs.filter(employee=employee)
    for field, value in (("approval_state", approval_state), ("posting_state", posting_state),
                         ("payment_state", payment_state)):
        if value:
            qs = qs.filter(**{field: value})
    if flagged is not None:
        qs = qs.filter(policy_flagged=flagged)
    return qs.order_by("-created_at", "-id")


def expense_get(*, source_system, source_id: str) -> Expense | None:
    return Expense.objects.filter(source_system=source_system, source_id=source_id).first()


def expense_detail(expense_id) -> Expense:
    """One expense with its lines, allocations, receipts, policy results and steps prefetched."""
    return (
        Expense.objects.select_related("employee", "legal_entity", "currency", "source_system")
        .prefetch_related("lines__allocations", "lines__category", "lines__tax_code", "receipts", "policy_results",
                          "approval_steps__approver", "approval_steps__group", "revisions")
        .get(pk=expense_id)
    )


def pending_approvals(approver) -> QuerySet[ApprovalStep]:
    """Steps waiting for ``approver`` (an Employee): assigned, delegated to them, or to a
    group they belong to; never their own expenses. Each step's ``expense`` is loaded."""
    return pending_steps_for(approver)
