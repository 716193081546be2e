"""Admin for the outbox: jobs (filters by state, operation and target; tries inline; replay
with a reason), attempts and policies. Actions call services; nothing here changes a state."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse

from controlplane.core.actors import Actor
from controlplane.core.admin import AuditedAdmin
from controlplane.core.errors import DomainError
from controlplane.sync.models import JobState, OutboxJob, SyncAttempt, SyncPolicy
from controlplane.sync.services import outbox_replay


class OperationFilter(admin.SimpleListFilter):
    title = "operation"
    parameter_name = "operation"

    def lookups(self, request, model_admin):
        ops = OutboxJob.objects.values_list("operation", flat=True).distinct().order_by("operation")
        return [(op, op) for op in ops]

    def queryset(self, request, queryset):
        return queryset.filter(operation=self.value()) if self.value() else queryset


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return (("dead", "Dead letters"), ("retrying", "Retrying"), ("open", "Not finished"))

    def queryset(self, request, queryset):
        if self.value() == "dead":
            return queryset.filter(state=JobState.DEAD)
        if self.value() == "retrying":
            return queryset.filter(state=JobState.RETRY_WAIT)
        if self.value() == "open":
            return queryset.exclude(state__in=JobState.terminal())
        return queryset


class SyncAttemptInline(admin.TabularInline):
    model = SyncAttempt
    extra = 0
    can_delete = False
    ordering = ["-number", "-id"]
    fields = ["number", "started_at", "duration_ms", "outcome", "error_class", "error", "worker_id"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ReplayForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), min_length=3,
                             help_text="Why these jobs are replayed (e.g. which mapping was fixed). Recorded in the history.")
    reset_attempts = forms.BooleanField(required=False, initial=True)


@admin.register(OutboxJob)
class OutboxJobAdmin(AuditedAdmin):
    list_display = ["id", "operation", "target", "state", "attempts", "next_attempt_at", "last_error_class",
                    "correlation_id", "created_at"]
    list_filter = [NeedsAttentionFilter, "state", OperationFilter, "target", "queue"]
    list_select_related = ["target"]
    search_fields = ["idempotency_key", "correlation_id", "object_id", "last_error"]
    date_hierarchy = "created_at"
    inlines = [SyncAttemptInline]
    actions = ["replay_selected"]
    readonly_fields = [f.name for f in OutboxJob._meta.fields] + ["subject"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Replay selected jobs (dead, cancelled or waiting) with a reason")
    def replay_selected(self, request, queryset):
        form = ReplayForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                replayed = outbox_replay(
                    actor=Actor(user=request.user), job_ids=list(queryset.values_list("pk", flat=True)),
                    reason=form.cleaned_data["reason"], reset_attempts=form.cleaned_data["reset_attempts"],
                )
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            skipped = queryset.count() - len(replayed)
            self.message_user(request, f"{len(replayed)} job(s) replayed; {skipped} skipped (not replayable).",
                              messages.SUCCESS if replayed else messages.WARNING)
            return None
        return TemplateResponse(request, "admin/sync/replay.html", {
            **self.admin_site.each_context(request), "title": "Replay outbox jobs", "form": form,
            "jobs": queryset.order_by("pk"), "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        })


@admin.register(SyncAttempt)
class SyncAttemptAdmin(AuditedAdmin):
    list_display = ["id", "job", "number", "outcome", "started_at", "duration_ms", "error_class", "worker_id"]
    list_filter = ["outcome", "job__operation"]
    list_select_related = ["job"]
    search_fields = ["job__idempotency_key", "correlation_id", "error"]
    readonly_fields = [f.name for f in SyncAttempt._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SyncPolicy)
class SyncPolicyAdmin(AuditedAdmin):
    list_display = ["operation", "mode", "batch_size", "schedule", "schedule_enabled", "due_jobs"]
    list_filter = ["mode"]
    list_select_related = ["schedule"]
    search_fields = ["operation"]

    @admin.display(boolean=True, description="window enabled")
    def schedule_enabled(self, obj):
        return bool(obj.schedule and obj.schedule.enabled)

    @admin.display(description="jobs not finished")
    def due_jobs(self, obj):
        counts = dict(OutboxJob.objects.filter(operation=obj.operation).exclude(state__in=JobState.terminal())
                      .values_list("operation").annotate(n=Count("id")))
        return counts.get(obj.operation, 0)
