from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "controlplane.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from django.contrib import admin

        from controlplane.observability.admin_views import install

        install(admin.site)
