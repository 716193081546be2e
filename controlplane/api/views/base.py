"""The base of every API view: token or session auth, scopes, idempotent POSTs, problems."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from rest_framework import authentication
from rest_framework.views import APIView

from controlplane.api.authentication import ApiTokenAuthentication
from controlplane.api.caller import Caller, SystemPrincipal, caller_for
from controlplane.api.idempotency import (
    HEADER,
    fingerprint,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    valid_key,
)
from controlplane.api.permissions import HasScope
from controlplane.api.problems import ProblemJSONRenderer
from controlplane.core.errors import DomainError


class _Replay(Exception):
    def __init__(self, response):
        self.response = response


class PayloadTooLarge(DomainError):
    def __init__(self):
        super().__init__(message="The request body is too large.", code="payload_too_large", status=413)


class ApiMixin:
    """Mixed into every API view (before the DRF class).

    POST requests need an ``Idempotency-Key`` unless the view sets ``idempotent = False``.
    """

    authentication_classes = [ApiTokenAuthentication, authentication.SessionAuthentication]
    permission_classes = [HasScope]
    idempotent = True
    _idempotency_record = None

    @property
    def caller(self) -> Caller:
        return caller_for(self.request)

    def initial(self, request, *args, **kwargs):
        body = None
        if request.method == "POST":
            try:
                # Read the raw body before anything parses the stream (CSRF, multipart).
                body = request._request.body
            except RequestDataTooBig as exc:
                raise PayloadTooLarge() from exc
        super().initial(request, *args, **kwargs)
        if isinstance(request.user, SystemPrincipal):
            # Django's request must not carry the principal: the history middleware would try
            # to store it as a user. The actor names the system instead.
            request._request.user = AnonymousUser()
        if request.method == "POST" and self.idempotent:
            key = valid_key(request.headers.get(HEADER))
            claim = idempotency_claim(
                caller=self.caller.key, key=key,
                fingerprint=fingerprint(request.method, request.get_full_path(), request.content_type, body),
            )
            if claim.replay is not None:
                raise _Replay(claim.replay)
            self._idempotency_record = claim.record

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(response, "is_problem", False):
            response.accepted_renderer = ProblemJSONRenderer()
            response.accepted_media_type = ProblemJSONRenderer.media_type
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None:
            try:
                response.render()
            except BaseException:
                idempotency_release(record)
                raise
            idempotency_complete(record, response)
        return response


class ApiView(ApiMixin, APIView):
    pass

