"""Auditors read everything, history included, and change nothing; secrets never appear."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from controlplane.connections.models import SystemKind
from tests import factories as f
from tests.observability import factories as of

pytestmark = pytest.mark.django_db

SECRET = "CLEAR-TEXT-SECRET-4711"


def test_no_model_admin_offers_an_action_or_change_to_auditors(auditor):
    request = RequestFactory().get("/admin/")
    request.user = auditor
    offenders = {}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("auth",) and not model_admin.has_view_permission(request):
            continue  # outside the auditor's grants (e.g. third-party models)
        actions = list(model_admin.get_actions(request))
        writes = [p for p in ("add", "change", "delete")
                  if getattr(model_admin, f"has_{p}_permission")(request)]
        if actions or writes:
            offenders[model._meta.label] = (actions, writes)
    assert offenders == {}


def test_every_changelist_and_history_page_is_readable(client, auditor):
    client.force_login(auditor)
    record = of.open_exception(title="visible to auditors")
    failures = []
    request = _req(auditor)
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_view_permission(request):
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        status = client.get(url).status_code
        if status != 200:
            failures.append((model._meta.label, status))
    history = client.get(f"/admin/exceptions/exceptionrecord/{record.pk}/history/")
    assert history.status_code == 200 and b"visible to auditors" in history.content
    assert failures == []


def _req(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_change_add_and_delete_urls_refuse_auditors(client, auditor):
    client.force_login(auditor)
    employee = f.EmployeeFactory(first_name="Ada")
    record = of.open_exception()
    assert client.post(f"/admin/masterdata/employee/{employee.pk}/change/", {"first_name": "Eve"}).status_code == 403
    assert client.get("/admin/masterdata/employee/add/").status_code == 403
    assert client.post(f"/admin/masterdata/employee/{employee.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/exceptions/exceptionrecord/{record.pk}/act/resolve/", {"text": "x" * 20}).status_code == 403
    assert client.post("/admin/exceptions/exceptionrecord/", {
        "action": "resolve_selected", "_selected_action": [record.pk], "apply": "1", "text": "x" * 20,
    }).status_code in (200, 302)
    record.refresh_from_db()
    employee.refresh_from_db()
    assert (record.status, employee.first_name) == ("open", "Ada")
    page = client.get(f"/admin/masterdata/employee/{employee.pk}/change/").content.decode()
    assert 'name="_save"' not in page and 'type="submit"' not in page.split('id="content-main"')[1].split("</form>")[0]


def test_secrets_are_never_shown_to_auditors(client, auditor):
    client.force_login(auditor)
    system = f.ExternalSystemFactory(code="bank", kind=SystemKind.BANK)
    system.set_credentials({"password": SECRET})
    system.save()
    pages = [
        "/admin/connections/externalsystem/",
        f"/admin/connections/externalsystem/{system.pk}/change/",
        f"/admin/connections/externalsystem/{system.pk}/history/",
    ]
    for row in system.history.all():
        pages.append(f"/admin/connections/externalsystem/{system.pk}/history/{row.history_id}/")
    try:
        from controlplane.events.models import Subscription

        sub = Subscription.objects.create(system=system, url="https://archive.example/hook", event_types=["*"],
                                          secret=SECRET)
        for name in ("changelist", "change", "history"):
            try:
                args = [] if name == "changelist" else [sub.pk]
                pages.append(reverse(f"admin:events_subscription_{name}", args=args))
            except NoReverseMatch:
                pass
    except ImportError:
        pass
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET not in response.content.decode(), url
        assert "fernet:" not in response.content.decode(), url
