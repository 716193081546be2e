from django.apps import AppConfig


class ExpensesConfig(AppConfig):
    name = "controlplane.expenses"
    label = "expenses"
