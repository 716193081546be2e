"""``/metrics`` (Prometheus text exposition) and ``/health/ready`` (readiness probe).

Both are thin: they call :mod:`controlplane.observability.metrics` / ``health`` and render.
``/metrics`` is open unless ``METRICS_TOKEN`` is set in settings, in which case it wants
``Authorization: Bearer <token>`` (compared in constant time).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from controlplane.observability import health, metrics


@never_cache
@require_GET
def metrics_view(request):
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


@never_cache
@require_GET
def ready_view(request):
    """200 ``{"status": "ok", "checks": {...}}`` when every dependency answers, else 503
    ``{"status": "unavailable", "failing": [names], "checks": {...}}``."""
    ok, checks = health.readiness()
    if ok:
        return JsonResponse({"status": "ok", "checks": checks})
    failing = sorted(name for name, check in checks.items() if not check["ok"])
    return JsonResponse({"status": "unavailable", "failing": failing, "checks": checks}, status=503)
