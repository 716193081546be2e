"""DRF authentication: ``Authorization: Bearer cpt_…`` tokens bound to one external system."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from controlplane.api.caller import SystemPrincipal
from controlplane.api.tokens import api_token_check


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = api_token_check(credentials.strip())
        if token is None:
            # One answer for unknown, revoked and expired tokens: nothing to probe.
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.", code="invalid_token")
        return SystemPrincipal(token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
