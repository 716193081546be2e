"""Admin for API tokens, idempotency records and inbound webhooks. Token hashes never show;
a token is issued with ``manage.py api_token_issue`` (the clear token is printed once)."""

from __future__ import annotations

from django.contrib import admin, messages

from controlplane.api.models import ApiToken, IdempotencyRecord, InboundWebhook
from controlplane.api.tokens import api_token_revoke
from controlplane.core.actors import Actor
from controlplane.core.admin import AuditedAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    list_display = ["prefix", "name", "system", "scope_list", "entity_list", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["system", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "system__code"]
    list_select_related = ["system"]
    fields = ["name", "system", "prefix", "scopes", "legal_entities", "expires_at", "revoked_at", "revoked_reason",
              "last_used_at", "created_by", "created_at"]
    readonly_fields = ["system", "prefix", "last_used_at", "created_by", "created_at", "revoked_at", "revoked_reason"]
    filter_horizontal = ["legal_entities"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # issued by the command, so the clear token is shown once and never stored

    @admin.display(description="scopes")
    def scope_list(self, obj) -> str:
        return ", ".join(obj.scopes)

    @admin.display(description="entities")
    def entity_list(self, obj) -> str:
        return ", ".join(e.code for e in obj.legal_entities.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("legal_entities")

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            api_token_revoke(actor=Actor(user=request.user), token_id=token.pk, reason="revoked in admin")
        self.message_user(request, f"{queryset.count()} token(s) revoked.", messages.SUCCESS)


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(_ReadOnly):
    list_display = ["caller", "key", "state", "response_status", "created_at", "expires_at"]
    list_filter = ["state", "response_status"]
    search_fields = ["caller", "key"]
    exclude = ["response_body"]


@admin.register(InboundWebhook)
class InboundWebhookAdmin(_ReadOnly):
    list_display = ["webhook_id", "system", "event_type", "state", "received_at", "processed_at"]
    list_filter = ["state", "system"]
    search_fields = ["webhook_id", "correlation_id"]
    list_select_related = ["system"]
    readonly_fields = ["body_text"]
    exclude = ["body"]

    @admin.display(description="body")
    def body_text(self, obj) -> str:
        return bytes(obj.body).decode("utf-8", errors="replace")[:20000]
