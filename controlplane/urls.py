"""URL map: admin, API v1 with its schema and docs, health and metrics."""

from django.contrib import admin
from django.urls import include, path

from controlplane.core import views as core_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", core_views.health, name="health"),
    # /api/v1/…, /api/schema/, /api/docs/
    path("api/", include("controlplane.api.urls")),
    # /metrics, /health/ready
    path("", include("controlplane.observability.urls")),
]
