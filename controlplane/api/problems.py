"""RFC 9457 problem details for every API error, with stable codes and field-level entries.

``{"type", "title", "status", "detail", "code", "errors": [{"field", "code", "detail"}]}``
served as ``application/problem+json``. Unexpected errors become a bare 500 problem: the
stack trace goes to the log with the correlation id, never to the caller.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from controlplane.core.correlation import get_correlation_id
from controlplane.core.errors import DomainError

log = logging.getLogger(__name__)

TYPE_BASE = "https://controlplane.invalid/problems/"
TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}


class ProblemJSONRenderer(JSONRenderer):
    media_type = "application/problem+json"
    format = "problem+json"


def problem(status_code: int, code: str, detail: str, errors: list[dict] | None = None, headers=None) -> Response:
    """A problem-details response (its content type is set by :func:`finalize`)."""
    body = {
        "type": TYPE_BASE + code,
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }
    cid = get_correlation_id()
    if cid:
        body["correlation_id"] = cid
    response = Response(body, status=status_code, headers=headers)
    response.is_problem = True
    return response


def _field_errors(detail, prefix: str = "") -> list[dict]:
    """Flatten DRF's nested validation detail into ``[{field, code, detail}]``."""
    out = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            # (list fields report errors keyed by the item's index: 0 is a name too)
            name = str(key) if key != "non_field_errors" else ""
            out.extend(_field_errors(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            out.extend({"field": prefix, "code": item.code or "invalid", "detail": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                out.extend(_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, exceptions.ErrorDetail):
        out.append({"field": prefix, "code": detail.code or "invalid", "detail": str(detail)})
    return out


def exception_handler(exc, context):
    """DRF ``EXCEPTION_HANDLER``: domain errors, DRF errors, 404, auth and throttling → problems."""
    if isinstance(exc, DomainError):
        return problem(exc.status, exc.code, exc.message, [e.as_dict() for e in exc.errors])
    if isinstance(exc, Http404):
        return problem(404, "not_found", "Not found.")
    if isinstance(exc, PermissionDenied):
        return problem(403, "forbidden", "You may not do this.")
    if isinstance(exc, exceptions.ValidationError):
        return problem(400, "invalid_request", "The request is invalid.", _field_errors(exc.detail))
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        return problem(exc.status_code, code, str(detail), headers=headers or None)
    log.exception("unhandled error in API view %s", type(context.get("view")).__name__)
    return problem(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "An unexpected error occurred.")


@csrf_exempt
def not_found(request, *args, **kwargs):
    """A plain Django view: 404 as problem details for paths no API route matches."""
    import json

    from django.http import HttpResponse

    body = {"type": TYPE_BASE + "not_found", "title": TITLES[404], "status": 404, "detail": "Not found.",
            "code": "not_found", "errors": []}
    return HttpResponse(json.dumps(body), status=404, content_type=ProblemJSONRenderer.media_type)
