"""Routes mounted at the site root by ``controlplane.urls``."""

from django.urls import path

from controlplane.observability import views

urlpatterns = [
    path("metrics", views.metrics_view, name="metrics"),
    path("health/ready", views.ready_view, name="health-ready"),
    path("health/ready/", views.ready_view),
]
