"""Roles are Django groups. A data migration creates them (``core.0001``); their permissions
are (re)granted after every ``migrate`` from :data:`ROLE_GRANTS`, so permissions of apps
added later reach the roles without a new migration.

A grant is ``(app_label, actions)`` where actions are among view/add/change/delete; ``"*"``
as app label means every app of the control plane.
"""

from __future__ import annotations

from django.db.models.signals import post_migrate
from django.dispatch import receiver

OUR_APPS = (
    "core", "masterdata", "connections", "exceptions", "expenses", "approvals", "sync",
    "events", "api", "odoo", "payments", "observability",
)

EMPLOYEE = "employee"
APPROVER = "approver"
FINANCE_REVIEWER = "finance reviewer"
PAYMENT_OFFICER = "payment officer"
INTEGRATION_ADMIN = "integration administrator"
AUDITOR = "auditor"

ROLE_NAMES = (EMPLOYEE, APPROVER, FINANCE_REVIEWER, PAYMENT_OFFICER, INTEGRATION_ADMIN, AUDITOR)

ROLE_GRANTS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    EMPLOYEE: [("expenses", ("view",))],
    APPROVER: [("expenses", ("view",)), ("approvals", ("view",)), ("masterdata", ("view",))],
    FINANCE_REVIEWER: [
        ("*", ("view",)),
        ("expenses", ("view", "change")),
        ("approvals", ("view", "add", "change")),
        ("exceptions", ("view", "change")),
        ("masterdata", ("view", "add", "change")),
    ],
    PAYMENT_OFFICER: [("*", ("view",)), ("payments", ("view", "add", "change")), ("exceptions", ("view", "change"))],
    INTEGRATION_ADMIN: [
        ("*", ("view",)),
        ("connections", ("view", "add", "change", "delete")),
        ("sync", ("view", "add", "change")),
        ("events", ("view", "add", "change", "delete")),
        ("api", ("view", "add", "change", "delete")),
        ("odoo", ("view", "add", "change")),
        ("exceptions", ("view", "change")),
        ("django_celery_beat", ("view", "add", "change", "delete")),
    ],
    # Auditors read everything, history included, and change nothing.
    AUDITOR: [("*", ("view",)), ("django_celery_beat", ("view",)), ("auth", ("view",))],
}


def grant_role_permissions() -> None:
    """Make each role group hold exactly the permissions its grants describe."""
    from django.contrib.auth.models import Group, Permission

    for role, grants in ROLE_GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = set()
        for app_label, actions in grants:
            labels = OUR_APPS if app_label == "*" else (app_label,)
            qs = Permission.objects.filter(content_type__app_label__in=labels)
            for perm in qs.only("id", "codename"):
                if perm.codename.split("_", 1)[0] in actions:
                    wanted.add(perm.id)
        group.permissions.set(wanted)


@receiver(post_migrate)
def _grant_after_migrate(sender, **kwargs) -> None:
    # Sent once per app after migrate (and after test flushes); permissions of each app are
    # created just before by auth's own receiver, so granting every time catches them all.
    grant_role_permissions()
