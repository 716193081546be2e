"""Admin for the exception queue (the full console comes with the admin issue)."""

from __future__ import annotations

from django.contrib import admin

from controlplane.core.admin import AuditedAdmin
from controlplane.exceptions.models import ExceptionRecord


@admin.register(ExceptionRecord)
class ExceptionRecordAdmin(AuditedAdmin):
    list_display = ["id", "kind", "severity", "status", "title", "legal_entity", "system", "assignee", "created_at"]
    list_filter = ["status", "kind", "severity", "legal_entity", "system"]
    list_select_related = ["legal_entity", "system", "assignee"]
    search_fields = ["title", "detail", "dedupe_key", "object_id"]
    readonly_fields = ["status", "content_type", "object_id", "payload", "dedupe_key", "closed_at", "closed_by"]
    date_hierarchy = "created_at"
