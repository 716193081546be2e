"""Request latency and error metrics for Prometheus.

Add ``controlplane.observability.middleware.RequestMetricsMiddleware`` near the top of
``MIDDLEWARE`` (right after ``SecurityMiddleware``) so the measured time covers the other
middleware too. The ``route`` label is the URL *pattern* that matched (e.g.
``api/v1/expenses/<uuid:public_id>/``), never the raw path, so label cardinality stays bounded.
"""

from __future__ import annotations

import time

from controlplane.observability.metrics import HTTP_REQUEST_EXCEPTIONS, HTTP_REQUEST_SECONDS

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(request) -> str:
    # Clients choose the method string: unknown ones share one label value.
    return request.method if request.method in METHODS else "other"


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED
    return match.route or match.view_name or UNMATCHED


class RequestMetricsMiddleware:
    """Observes ``controlplane_http_request_duration_seconds{method,route,status}`` for every
    request and counts unhandled view exceptions in
    ``controlplane_http_request_exceptions_total{method,route,exception}``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        HTTP_REQUEST_SECONDS.labels(
            method=_method(request), route=_route(request), status=str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    def process_exception(self, request, exception):
        HTTP_REQUEST_EXCEPTIONS.labels(
            method=_method(request), route=_route(request), exception=type(exception).__name__
        ).inc()
        # None: Django's own handling (500 page, logging) goes on unchanged.
        return None
