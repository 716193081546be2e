"""Liveness endpoint (readiness with dependency checks comes with observability)."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    """Liveness: the process answers. It checks nothing else on purpose."""
    return JsonResponse({"status": "ok"})
