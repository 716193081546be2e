"""Admin for routing configuration (policies, rules with their steps, delegations) and a
read-only view of frozen chains (decisions go through the services)."""

from __future__ import annotations

from django.contrib import admin

from controlplane.approvals.models import ApprovalPolicy, ApprovalRule, ApprovalRuleStep, ApprovalStep, Delegation
from controlplane.core.admin import AuditedAdmin


class RuleInline(admin.TabularInline):
    model = ApprovalRule
    extra = 0
    fields = ("order", "name", "active", "department", "project", "category", "cost_centre", "min_amount",
              "max_amount", "stop_processing")
    show_change_link = True


class RuleStepInline(admin.TabularInline):
    model = ApprovalRuleStep
    extra = 0
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
                    "min_amount", "max_amount", "stop_processing")
    list_filter = ("policy", "active")
    search_fields = ("name",)
    list_select_related = ("policy", "department", "project", "category", "cost_centre")
    inlines = (RuleStepInline,)


@admin.register(ApprovalStep)
class ApprovalStepAdmin(AuditedAdmin):
    list_display = ("expense", "cycle", "order", "kind", "approver", "group", "status", "due_at", "decided_by",
                    "decided_at")
    list_filter = ("status", "kind")
    search_fields = ("expense__source_id", "approver__code", "decided_by__code")
    list_select_related = ("expense", "approver", "group", "decided_by")
    readonly_fields = [f.name for f in ApprovalStep._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Delegation)
class DelegationAdmin(AuditedAdmin):
    list_display = ("approver", "delegate", "start", "end", "active", "reason")
    list_filter = ("active",)
    search_fields = ("approver__code", "delegate__code")
    list_select_related = ("approver", "delegate")
