"""Read-only inlines of the expense screen (lines, receipts, policy results, the approval
chain, revisions) and the history diff helper."""

from __future__ import annotations

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from controlplane.approvals.models import ApprovalStep
from controlplane.expenses.models import ExpenseLine, ExpenseRevision, PolicyCheckResult, Receipt


def admin_link(viewname: str, args, text):
    """A link to the admin view ``viewname`` (plain text where the URL does not resolve)."""
    try:
        return format_html('<a href="{}">{}</a>', reverse(viewname, args=args), text)
    except NoReverseMatch:
        return text



class DiffHelper(HistoricalRecordContextHelper):
    """The history diff, with an empty foreign key shown as "—" (not as a deleted object)."""

    def prepare_delta_change_value(self, change, value):
        if isinstance(value, DeletedObject) and value.pk is None:
            return "—"
        return super().prepare_delta_change_value(change, value)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LineInline(ReadOnlyInline):
    model = ExpenseLine
    fields = ("position", "date", "category", "merchant", "description", "amount", "currency", "tax_code",
              "tax_amount", "total", "exchange_rate", "exchange_rate_date", "amount_base", "allocations_display")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category", "currency", "tax_code").prefetch_related(
            "allocations__project", "allocations__cost_centre", "allocations__analytic_account")

    @admin.display(description="allocations")
    def allocations_display(self, line):
        rows = [(a.percent.normalize(), a.project or a.cost_centre or a.analytic_account or "—")
                for a in line.allocations.all()]
        return format_html_join(", ", "{}% {}", rows) if rows else "—"


class ReceiptInline(ReadOnlyInline):
    model = Receipt
    fields = ("download", "content_type", "size", "sha256", "line", "created_at")
    readonly_fields = fields

    @admin.display(description="receipt")
    def download(self, receipt):
        return admin_link("admin:expenses_expense_receipt", [receipt.expense_id, receipt.pk],
                     receipt.original_name or receipt.sha256[:12])


class PolicyInline(ReadOnlyInline):
    model = PolicyCheckResult
    verbose_name_plural = "policy-check results"
    fields = ("revision", "code", "outcome", "field", "message")
    readonly_fields = fields


class ApprovalChainInline(ReadOnlyInline):
    model = ApprovalStep
    verbose_name_plural = "approval chain (frozen at submission) and decisions"
    fields = ("cycle", "revision", "order", "kind", "approver", "group", "delegated_from", "status", "due_at",
              "decided_by", "decided_by_user", "decided_at", "comment", "escalation_reason", "routing_note")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "approver", "group", "delegated_from", "decided_by", "decided_by_user")


class RevisionInline(ReadOnlyInline):
    model = ExpenseRevision
    fields = ("revision", "material", "applied", "changed", "actor_label", "reason", "created_at")
    readonly_fields = fields
