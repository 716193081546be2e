from django.apps import AppConfig


class MasterdataConfig(AppConfig):
    name = "controlplane.masterdata"
    label = "masterdata"
    verbose_name = "Master data"
