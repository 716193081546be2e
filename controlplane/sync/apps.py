from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "controlplane.sync"
    label = "sync"
