from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "controlplane.events"
    label = "events"

    def ready(self) -> None:
        from controlplane.events import handlers

        handlers.register()
