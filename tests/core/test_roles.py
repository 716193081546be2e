"""Roles exist as groups; the auditor reads everything (history included) and changes nothing."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group

from controlplane.core.roles import AUDITOR, ROLE_NAMES
from tests.factories import DepartmentFactory, ExternalSystemFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_role_groups_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLE_NAMES)


@pytest.fixture
def auditor_client(client):
    user = UserFactory(username="auditor1", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITOR))
    client.force_login(user)
    return client


def test_auditor_has_only_view_permissions():
    perms = Group.objects.get(name=AUDITOR).permissions.values_list("codename", flat=True)
    assert perms and all(p.startswith("view_") for p in perms)
    assert "view_historicalemployee" in perms


def test_auditor_can_read_but_not_change_any_registered_model(auditor_client):
    dept = DepartmentFactory()
    # every model the admin registers: the changelist opens, add is forbidden
    for model, _model_admin in admin.site._registry.items():
        meta = model._meta
        if meta.app_label not in {"masterdata", "connections", "exceptions"}:
            continue
        base = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert auditor_client.get(base).status_code == 200, base
        assert auditor_client.get(base + "add/").status_code == 403, base
    # a change form is read-only and a POST to it is refused
    url = f"/admin/masterdata/department/{dept.pk}/change/"
    page = auditor_client.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = auditor_client.post(url, {"legal_entity": dept.legal_entity.pk, "code": dept.code, "name": "Hacked"})
    assert response.status_code == 403
    dept.refresh_from_db()
    assert dept.name != "Hacked"
    # history is readable
    assert auditor_client.get(url.replace("change/", "history/")).status_code == 200


def test_auditor_never_sees_credentials(auditor_client):
    system = ExternalSystemFactory()
    system.set_credentials({"password": "s3cr3t-value"})
    system.save()
    for url in (f"/admin/connections/externalsystem/{system.pk}/change/",
                "/admin/connections/externalsystem/",
                f"/admin/connections/externalsystem/{system.pk}/history/"):
        page = auditor_client.get(url)
        assert page.status_code == 200
        assert b"s3cr3t-value" not in page.content
        assert b"fernet:" not in page.content
