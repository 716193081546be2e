from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "controlplane.api"
    label = "api"

    def ready(self) -> None:
        from controlplane.api import handlers, schema  # noqa: F401  (schema registers the auth extension)

        handlers.register()
