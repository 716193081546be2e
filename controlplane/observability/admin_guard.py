"""Read-only staff (auditors) get no admin actions that could write.

Django offers an action to everyone who can open the change list unless the action declares
``allowed_permissions``. Third-party admins (django-celery-beat's "run tasks") and our own
actions written without the declaration would then be offered to auditors — and, since
Django validates a posted action against the offered ones, also runnable by them.

The guard wraps ``get_actions`` of every registered ``ModelAdmin``: for a user without
change permission on the model, actions that do not declare ``allowed_permissions`` are
dropped; actions that declare only read permissions (e.g. ``("view",)``) stay.
"""

from __future__ import annotations

from django.contrib import admin


def _guarded(model_admin: admin.ModelAdmin):
    original = model_admin.get_actions

    def get_actions(request):
        actions = original(request)
        if model_admin.has_change_permission(request):
            return actions
        # Entries are (function, name, description); undeclared permissions mean "may write".
        return {name: entry for name, entry in actions.items()
                if getattr(entry[0], "allowed_permissions", None)}

    get_actions._read_only_guard = True
    return get_actions


def guard_actions(site: admin.AdminSite) -> int:
    """Install the guard on every ModelAdmin registered on ``site``; returns how many."""
    count = 0
    for model_admin in site._registry.values():
        if not getattr(model_admin.get_actions, "_read_only_guard", False):
            model_admin.get_actions = _guarded(model_admin)
            count += 1
    return count
