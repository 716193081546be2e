"""Request middleware: take or make the correlation id and echo it back."""

from __future__ import annotations

import re

from controlplane.core.correlation import correlation

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class CorrelationIdMiddleware:
    """Uses the caller's ``X-Correlation-ID`` when it is a sane token, else a new one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        with correlation(incoming if _VALID.match(incoming) else None) as cid:
            request.correlation_id = cid
            response = self.get_response(request)
        response[HEADER] = cid
        return response
