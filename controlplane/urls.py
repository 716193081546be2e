"""URL map: admin, API v1 with its schema and docs, health and metrics.

Each app owns its own ``urls.py``; an app's routes appear here once it has one.
"""

from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path

from controlplane.core import views as core_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", core_views.health, name="health"),
]

# /api/v1/…, /api/schema/, /api/docs/
if find_spec("controlplane.api.urls"):
    urlpatterns.append(path("api/", include("controlplane.api.urls")))
# /metrics, /health/ready
if find_spec("controlplane.observability.urls"):
    urlpatterns.append(path("", include("controlplane.observability.urls")))
