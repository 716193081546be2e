from django.apps import AppConfig
from django.conf import settings


class SyncConfig(AppConfig):
    name = "controlplane.sync"
    label = "sync"
    verbose_name = "Synchronisation (outbox)"

    def ready(self) -> None:
        from controlplane.sync import registry

        # Handlers living outside the apps (e.g. test-only ones a worker started by a test needs).
        registry.import_extra_modules(getattr(settings, "SYNC_EXTRA_HANDLER_MODULES", ()))
