"""Admin building blocks shared by every app: history with actor and reason, audited saves."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from controlplane.core.actors import Actor, acting


class AuditedAdmin(SimpleHistoryAdmin):
    """History on every page; saves and deletes record the staff user and a reason.

    Reverting from history is disabled in settings (it would bypass transitions).
    """

    history_list_display = ["history_system", "history_change_reason"]

    def save_model(self, request, obj, form, change):
        changed = ", ".join(form.changed_data) if change and form else ""
        reason = f"changed in admin: {changed}" if change else "created in admin"
        with acting(Actor(user=request.user), reason):
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        with acting(Actor(user=request.user), "deleted in admin"):
            super().delete_model(request, obj)

    def save_formset(self, request, form, formset, change):
        with acting(Actor(user=request.user), "changed in admin (inline)"):
            super().save_formset(request, form, formset, change)


class ActiveFilter(admin.SimpleListFilter):
    title = "active"
    parameter_name = "is_active"

    def lookups(self, request, model_admin):
        return (("yes", "Active"), ("no", "Inactive"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(active=True)
        if self.value() == "no":
            return queryset.filter(active=False)
        return queryset
