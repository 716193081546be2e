from django.apps import AppConfig


class OdooConfig(AppConfig):
    name = "controlplane.odoo"
    label = "odoo"
    verbose_name = "Odoo"
