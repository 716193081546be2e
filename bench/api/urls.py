"""The project's URLs plus the bare-insert baseline view used only by ``bench/api/run.py``."""

from __future__ import annotations

from django.db import transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from controlplane.urls import urlpatterns as project_urls


@csrf_exempt
def bare_insert(request):
    """One INSERT of an Expense row (no auth, validation, history, events or outbox) behind the
    same middleware stack: the floor the full path is compared with."""
    from controlplane.expenses.models import Expense

    q = request.GET  # ids chosen once by the bench: system, employee, entity, currency
    with transaction.atomic():
        Expense.objects.bulk_create([Expense(source_system_id=q["s"], source_id=q["sid"], employee_id=q["e"],
                                             legal_entity_id=q["le"], currency_id=q["c"], total_amount="115.00")])
    return JsonResponse({"ok": True}, status=201)


urlpatterns = [path("bench/bare-insert/", bare_insert), *project_urls]
