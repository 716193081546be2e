from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "controlplane.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from django.contrib import admin

        from controlplane.observability.admin_guard import guard_actions
        from controlplane.observability.admin_views import install

        install(admin.site)
        # Every app's admin module is imported by now (admin autodiscovers in its own ready(),
        # and the admin app is listed before ours).
        guard_actions(admin.site)
