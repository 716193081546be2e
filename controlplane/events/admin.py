"""Admin for events and subscriptions. Secrets never show; deliveries are the
``webhook.deliver`` rows of the sync outbox (see the sync admin)."""

from __future__ import annotations

from django.contrib import admin

from controlplane.core.actors import Actor
from controlplane.core.admin import AuditedAdmin
from controlplane.events.models import DomainEvent, Subscription
from controlplane.events.services import subscription_disable


@admin.register(Subscription)
class SubscriptionAdmin(AuditedAdmin):
    list_display = ["system", "url", "types", "active", "failure_count", "last_success_at", "last_failure_at"]
    list_filter = ["active", "system"]
    search_fields = ["url", "system__code"]
    list_select_related = ["system"]
    exclude = ["secret", "previous_secret"]
    readonly_fields = ["public_id", "failure_count", "last_success_at", "last_failure_at", "previous_secret_expires_at"]
    filter_horizontal = ["legal_entities"]
    actions = ["disable"]

    @admin.display(description="event types")
    def types(self, obj) -> str:
        return ", ".join(obj.event_types)

    @admin.action(description="Disable the selected subscriptions")
    def disable(self, request, queryset):
        for sub in queryset:
            subscription_disable(actor=Actor(user=request.user), subscription_id=sub.pk, reason="disabled in admin")


@admin.register(DomainEvent)
class DomainEventAdmin(admin.ModelAdmin):
    list_display = ["event_type", "content_type", "object_id", "legal_entity", "source_system", "occurred_at", "actor_label"]
    list_filter = ["event_type", "legal_entity", "source_system"]
    search_fields = ["object_id", "correlation_id", "public_id"]
    list_select_related = ["content_type", "legal_entity", "source_system"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
