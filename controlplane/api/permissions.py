"""Scope checks: each view names the scope each of its actions needs."""

from __future__ import annotations

from rest_framework import permissions

from controlplane.api.caller import caller_for


class HasScope(permissions.BasePermission):
    """The caller holds the scope the view declares for this action.

    Views set ``required_scopes = {"list": "expenses:read", ...}`` (by action) or
    ``required_scope = "..."`` (one for all).
    """

    message = "The token lacks the scope this operation needs."
    code = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        caller = caller_for(request)
        if caller is None:
            return False
        scope = required_scope(view)
        return scope is not None and caller.has(scope)


def required_scope(view) -> str | None:
    by_action = getattr(view, "required_scopes", None)
    if by_action:
        return by_action.get(getattr(view, "action", None) or view.request.method.lower())
    return getattr(view, "required_scope", None)
