"""The base of every API view: token or session auth, scopes, idempotent POSTs, problems."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from rest_framework import authentication
from rest_framework.views import APIView

from controlplane.api.authentication import ApiTokenAuthentication
from controlplane.api.caller import Caller, SystemPrincipal, caller_for
from controlplane.api.idempotency import (
    HEADER,
    Pending,
    fingerprint,
    idempotency_begin,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    idempotency_store,
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
    A view that sets ``idempotency_in_transaction = True`` runs each such POST — key lock,
    work and stored answer — in one transaction (see :mod:`controlplane.api.idempotency`);
    its services' own transactions become savepoints, and a 5xx answer rolls it all back.
    The others claim the key, run the work in the services' transactions, then store.
    """

    authentication_classes = [ApiTokenAuthentication, authentication.SessionAuthentication]
    permission_classes = [HasScope]
    idempotent = True
    idempotency_in_transaction = False
    _idempotency_record = None
    _idempotency_pending = None

    def dispatch(self, request, *args, **kwargs):
        if self.idempotent and self.idempotency_in_transaction and request.method == "POST":
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

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
            print_ = fingerprint(request.method, request.get_full_path(), request.content_type, body)
            if self.idempotency_in_transaction:
                begun = idempotency_begin(caller=self.caller.key, key=key, fingerprint=print_)
                if not isinstance(begun, Pending):
                    raise _Replay(begun)
                self._idempotency_pending = begun
                return
            claim = idempotency_claim(caller=self.caller.key, key=key, fingerprint=print_)
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
        pending, self._idempotency_pending = self._idempotency_pending, None
        if pending is not None:
            if response.status_code >= 500:
                transaction.set_rollback(True)  # the work goes with the answer that failed
                return response
            response.render()  # (a failure here propagates: the transaction rolls back)
            idempotency_store(pending, response)
            return response
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

