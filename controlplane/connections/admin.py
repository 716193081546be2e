"""Admin for integration configuration. Credentials are write-only: the form takes new
values, the pages only ever show whether they are set. Value mappings import and export
as CSV (django-import-export)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from import_export import fields, resources
from import_export.admin import ImportExportMixin
from import_export.widgets import ForeignKeyWidget

from controlplane.connections import models as cm
from controlplane.core.admin import AuditedAdmin
from controlplane.core.crypto import mask
from controlplane.masterdata.models import LegalEntity


class ExternalSystemForm(forms.ModelForm):
    new_credentials = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='JSON object, e.g. {"login": "...", "password": "..."}. Leave empty to keep the current value.',
    )

    class Meta:
        model = cm.ExternalSystem
        fields = [
            "code", "name", "kind", "endpoint", "protocol", "database", "legal_entities", "enabled",
            "rate_limit_per_second", "max_in_flight", "timeout_seconds",
        ]

    def clean_new_credentials(self):
        raw = self.cleaned_data["new_credentials"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Credentials must be a JSON object.")
        return value

    def save(self, commit=True):
        values = self.cleaned_data.get("new_credentials")
        if values is not None:
            self.instance.set_credentials(values)
        return super().save(commit)


@admin.register(cm.ExternalSystem)
class ExternalSystemAdmin(AuditedAdmin):
    form = ExternalSystemForm
    list_display = ["code", "name", "kind", "endpoint", "protocol", "enabled", "credentials_state"]
    list_filter = ["kind", "enabled", "protocol"]
    search_fields = ["code", "name", "endpoint"]
    readonly_fields = ["credentials_state"]
    filter_horizontal = ["legal_entities"]
    # History rows hold the (encrypted) credentials column: never list it.
    history_list_display = ["history_system", "history_change_reason"]

    @admin.display(description="credentials")
    def credentials_state(self, obj):
        return mask(obj.credentials) or "—"

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f not in ("credentials",)]
        if not self.has_change_permission(request, obj):
            fields = [f for f in fields if f != "new_credentials"]
        return fields


class ValueMappingResource(resources.ModelResource):
    """CSV columns: system, kind, legal_entity, external_code, canonical_code, valid_from, valid_to."""

    system = fields.Field(attribute="system", column_name="system", widget=ForeignKeyWidget(cm.ExternalSystem, "code"))
    legal_entity = fields.Field(
        attribute="legal_entity", column_name="legal_entity", widget=ForeignKeyWidget(LegalEntity, "code")
    )

    class Meta:
        model = cm.ValueMapping
        fields = ("id", "system", "kind", "legal_entity", "external_code", "canonical_code", "valid_from", "valid_to")
        import_id_fields = ("system", "kind", "legal_entity", "external_code", "valid_from")
        skip_unchanged = True
        report_skipped = True
        use_transactions = True


@admin.register(cm.ValueMapping)
class ValueMappingAdmin(ImportExportMixin, AuditedAdmin):
    resource_classes = [ValueMappingResource]
    list_display = ["system", "kind", "legal_entity", "external_code", "canonical_code", "valid_from", "valid_to"]
    list_filter = ["system", "kind", "legal_entity"]
    list_select_related = ["system", "legal_entity"]
    search_fields = ["external_code", "canonical_code"]
    date_hierarchy = "valid_from"


@admin.register(cm.Binding)
class BindingAdmin(AuditedAdmin):
    list_display = ["system", "content_type", "object_id", "external_model", "external_id", "external_ref", "synced_at"]
    list_filter = ["system", "external_model", "content_type"]
    list_select_related = ["system", "content_type"]
    search_fields = ["object_id", "external_id", "external_ref"]


@admin.register(cm.OwnershipRule)
class OwnershipRuleAdmin(AuditedAdmin):
    list_display = ["object_kind", "field_group", "stage", "owner", "on_violation", "note"]
    list_filter = ["object_kind", "owner", "on_violation"]
    list_select_related = ["owner"]
    search_fields = ["object_kind", "field_group", "stage", "note"]
