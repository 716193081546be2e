from django.apps import AppConfig


class ExceptionsConfig(AppConfig):
    name = "controlplane.exceptions"
    label = "exceptions"
    verbose_name = "Exceptions"
