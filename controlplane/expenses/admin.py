"""Basic admin for expenses. States are read-only here: transitions go through the services
(a raw state save in the admin would bypass guards, history reasons and side effects)."""

from __future__ import annotations

from django.contrib import admin

from controlplane.core.admin import AuditedAdmin
from controlplane.expenses.models import (
    Expense,
    ExpenseAllocation,
    ExpenseLine,
    ExpensePosting,
    ExpenseRevision,
    PolicyCheckResult,
    Receipt,
)

STATE_FIELDS = ("approval_state", "posting_state", "payment_state")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LineInline(ReadOnlyInline):
    model = ExpenseLine
    fields = ("position", "date", "category", "merchant", "amount", "currency", "tax_code", "tax_amount",
              "exchange_rate", "exchange_rate_date", "exchange_rate_source", "amount_base")
    readonly_fields = fields


class PolicyInline(ReadOnlyInline):
    model = PolicyCheckResult
    fields = ("revision", "code", "outcome", "field", "message")
    readonly_fields = fields


class ReceiptInline(ReadOnlyInline):
    model = Receipt
    fields = ("original_name", "content_type", "size", "sha256", "line", "file")
    readonly_fields = fields


@admin.register(Expense)
class ExpenseAdmin(AuditedAdmin):
    list_display = ("public_id", "source_system", "source_id", "employee", "legal_entity", "total_amount", "currency",
                    "total_amount_base", "revision", *STATE_FIELDS, "policy_flagged", "created_at")
    list_filter = (*STATE_FIELDS, "policy_flagged", "legal_entity", "source_system")
    search_fields = ("source_id", "public_id", "employee__code", "employee__last_name", "purpose")
    list_select_related = ("source_system", "employee", "legal_entity", "currency")
    readonly_fields = (
        "public_id", "source_system", "source_id", "employee", "legal_entity", "currency", "total_amount",
        "total_amount_base", "total_tax", "revision", *STATE_FIELDS, "policy_flagged", "submitted_at", "approved_at",
        "decision_comment", "finance_reviewed_at", "finance_reviewed_by", "finance_reviewed_by_employee",
        "posting_revision", "posted_at", "paid_at", "payment_reference", "paid_by", "paid_by_user", "archived_at",
    )
    inlines = (LineInline, ReceiptInline, PolicyInline)

    def has_add_permission(self, request):
        return False  # expenses come from their source system


@admin.register(ExpenseLine)
class ExpenseLineAdmin(AuditedAdmin):
    list_display = ("expense", "position", "date", "category", "merchant", "amount", "currency", "amount_base")
    list_filter = ("category", "currency")
    search_fields = ("merchant", "expense__source_id")
    list_select_related = ("expense", "category", "currency")
    readonly_fields = [f.name for f in ExpenseLine._meta.fields]


@admin.register(ExpenseAllocation)
class ExpenseAllocationAdmin(AuditedAdmin):
    list_display = ("line", "percent", "project", "cost_centre", "analytic_account")
    list_select_related = ("line", "project", "cost_centre", "analytic_account")
    readonly_fields = [f.name for f in ExpenseAllocation._meta.fields]


@admin.register(Receipt)
class ReceiptAdmin(AuditedAdmin):
    list_display = ("expense", "original_name", "content_type", "size", "sha256", "created_at")
    list_filter = ("content_type",)
    search_fields = ("sha256", "original_name", "expense__source_id")
    list_select_related = ("expense",)
    readonly_fields = [f.name for f in Receipt._meta.fields]


@admin.register(ExpenseRevision)
class ExpenseRevisionAdmin(AuditedAdmin):
    list_display = ("expense", "revision", "material", "applied", "changed", "actor_label", "created_at")
    list_filter = ("material", "applied")
    list_select_related = ("expense",)
    readonly_fields = [f.name for f in ExpenseRevision._meta.fields]


@admin.register(PolicyCheckResult)
class PolicyCheckResultAdmin(AuditedAdmin):
    list_display = ("expense", "revision", "code", "outcome", "field", "message")
    list_filter = ("outcome", "code")
    list_select_related = ("expense",)
    readonly_fields = [f.name for f in PolicyCheckResult._meta.fields]


@admin.register(ExpensePosting)
class ExpensePostingAdmin(AuditedAdmin):
    list_display = ("reference", "expense", "revision", "document_name", "odoo_ref", "amount_total", "created_at")
    search_fields = ("reference", "document_name", "odoo_ref")
    list_select_related = ("expense",)
    readonly_fields = [f.name for f in ExpensePosting._meta.fields]
