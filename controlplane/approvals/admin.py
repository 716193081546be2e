"""Admin for routing configuration (policies, ordered rules with their steps, delegations)
and a read-only view of frozen chains: decisions go through the expense services (the
transition buttons on an expense), never through a save here."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.utils.html import format_html_join

from controlplane.approvals.models import ApprovalPolicy, ApprovalRule, ApprovalRuleStep, ApprovalStep, Delegation
from controlplane.approvals.services import delegation_create
from controlplane.core.actors import Actor
from controlplane.core.admin import AuditedAdmin


def _steps_summary(rule) -> str:
    steps = [(s.order, s.get_kind_display(), s.employee or s.group or (f"{s.levels} level(s)" if s.levels > 1 else ""))
             for s in rule.steps.all()]
    return format_html_join("; ", "{}. {} {}", steps) if steps else "— (no steps: direct manager)"


class RuleInline(admin.TabularInline):
    """Rules in evaluation order; their steps are edited on the rule's page (change link)."""

    model = ApprovalRule
    extra = 0
    ordering = ("order", "id")
    fields = ("order", "name", "active", "department", "project", "category", "cost_centre", "min_amount",
              "max_amount", "stop_processing", "steps_summary")
    readonly_fields = ("steps_summary",)
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("steps", queryset=ApprovalRuleStep.objects.select_related("group", "employee")))

    @admin.display(description="steps")
    def steps_summary(self, rule):
        return _steps_summary(rule)


class RuleStepInline(admin.TabularInline):
    model = ApprovalRuleStep
    extra = 0
    ordering = ("order", "id")
    fields = ("order", "kind", "levels", "group", "employee", "sla_hours")


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(AuditedAdmin):
    list_display = ("name", "legal_entity", "active", "default_sla_hours", "fallback_group")
    list_filter = ("active",)
    list_select_related = ("legal_entity", "fallback_group")
    inlines = (RuleInline,)


@admin.register(ApprovalRule)
class ApprovalRuleAdmin(AuditedAdmin):
    list_display = ("name", "policy", "order", "active", "department", "project", "category", "cost_centre",
                    "min_amount", "max_amount", "stop_processing", "steps_summary")
    list_filter = ("policy", "active")
    search_fields = ("name",)
    list_select_related = ("policy", "department", "project", "category", "cost_centre")
    ordering = ("policy", "order", "id")
    inlines = (RuleStepInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("steps", queryset=ApprovalRuleStep.objects.select_related("group", "employee")))

    @admin.display(description="steps")
    def steps_summary(self, rule):
        return _steps_summary(rule)


@admin.register(ApprovalStep)
class ApprovalStepAdmin(AuditedAdmin):
    list_display = ("expense", "cycle", "order", "kind", "approver", "group", "status", "due_at", "decided_by",
                    "decided_at")
    list_filter = ("status", "kind")
    search_fields = ("expense__source_id", "approver__code", "decided_by__code")
    list_select_related = ("expense", "expense__source_system", "approver", "group", "decided_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # frozen: decided through approval_decide

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Delegation)
class DelegationAdmin(AuditedAdmin):
    list_display = ("approver", "delegate", "start", "end", "active", "reason")
    list_filter = ("active",)
    search_fields = ("approver__code", "delegate__code")
    list_select_related = ("approver", "delegate")

    def save_model(self, request, obj, form, change):
        if change:  # editing the window or deactivating: an audited save
            super().save_model(request, obj, form, change)
            return
        created = delegation_create(actor=Actor(user=request.user), approver=obj.approver, delegate=obj.delegate,
                                    start=obj.start, end=obj.end, reason=obj.reason)
        obj.pk = created.pk
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
