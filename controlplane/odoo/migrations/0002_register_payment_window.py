"""Seed the sync policy of ``odoo.register_payment``: batch windows every 5 minutes, like
ledger postings (``controlplane.sync.policies.DEFAULT_POLICIES``). Registered in batch mode,
its pending jobs wait for a window: without this row they would wait forever. An existing
policy (edited in the admin) is left alone."""

import json

from django.db import migrations

OPERATION = "odoo.register_payment"
NAME = f"sync window: {OPERATION}"
WINDOW_TASK = "controlplane.sync.tasks.run_batch_window_task"


def create(apps, schema_editor):
    SyncPolicy = apps.get_model("sync", "SyncPolicy")
    if SyncPolicy.objects.filter(operation=OPERATION).exists():
        return
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=300, period="seconds")
    task, _ = PeriodicTask.objects.get_or_create(
        name=NAME, defaults={"task": WINDOW_TASK, "kwargs": json.dumps({"operation": OPERATION}),
                             "queue": "default", "interval": every, "enabled": True})
    SyncPolicy.objects.create(operation=OPERATION, mode="batch", schedule=task,
                              note="reimbursements registered as payments in Odoo")


def remove(apps, schema_editor):
    apps.get_model("sync", "SyncPolicy").objects.filter(operation=OPERATION).delete()
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("odoo", "0001_initial"),
        ("sync", "0001_initial"),
        ("django_celery_beat", "0018_improve_crontab_helptext"),
    ]

    operations = [migrations.RunPython(create, remove)]
