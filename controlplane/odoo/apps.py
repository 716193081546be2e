from django.apps import AppConfig


class OdooConfig(AppConfig):
    name = "controlplane.odoo"
    label = "odoo"
    verbose_name = "Odoo"

    def ready(self) -> None:
        from controlplane.odoo import handlers, payments

        handlers.register_all()
        payments.register_payments_operation()
