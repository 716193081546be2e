"""Rate limit per caller (external system or staff user)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from controlplane.api.caller import caller_for


class CallerRateThrottle(SimpleRateThrottle):
    scope = "caller"

    def get_cache_key(self, request, view):
        caller = caller_for(request)
        if caller is None:
            return None  # refused by authentication anyway
        return self.cache_format % {"scope": self.scope, "ident": caller.key}
