"""The audit-trail CSV export: every historical row of the period, with who, why and what
changed, secrets left out; read-only staff may use it, others may not."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.utils import timezone

from controlplane.core.actors import Actor, acting
from controlplane.core.correlation import correlation
from controlplane.core.roles import AUDITOR
from controlplane.exceptions.services import exception_override
from tests import factories as f
from tests.observability import factories as of

pytestmark = pytest.mark.django_db
URL = "/admin/audit-export/"


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def auditor(client):
    user = of.staff_user(AUDITOR, "auditor1")
    client.force_login(user)
    return user


def test_export_lists_changes_with_actor_reason_correlation_and_diff(client, auditor):
    # given an exception overridden by a person under a correlation id, and a system whose
    # credentials changed
    finops = f.UserFactory(username="finops1", is_staff=True)
    record = of.open_exception(title="Duplicate?", kind="duplicate_suspected")
    with correlation("cid-override-1"):
        exception_override(actor=Actor(user=finops), exception_id=record.pk,
                           justification="Two distinct taxi rides, both receipts checked.")
    system = f.ExternalSystemFactory(code="payroll", kind="payroll")
    with acting(Actor(user=finops), "rotate payroll secret"):
        system.set_credentials({"password": "TOP-SECRET-VALUE"})
        system.save()
    today = timezone.localdate()
    # when the auditor exports today
    response = client.get(URL, {"from": today.isoformat(), "to": today.isoformat()})
    rows = rows_of(response)
    # then the override row names who, why, the correlation id and the changed fields
    overrides = [r for r in rows if r["model"] == "exceptions.ExceptionRecord" and r["change_type"] == "changed"]
    assert len(overrides) == 1
    row = overrides[0]
    assert row["object_id"] == str(record.pk)
    assert row["user"] == "finops1"
    assert row["reason"].startswith("overridden: Two distinct taxi rides")
    assert row["correlation_id"] == "cid-override-1"
    changes = json.loads(row["changes"])
    assert changes["status"] == ["open", "overridden"]
    assert changes["resolution"][1] == "Two distinct taxi rides, both receipts checked."
    created = [r for r in rows if r["model"] == "exceptions.ExceptionRecord" and r["change_type"] == "created"]
    assert json.loads(created[0]["changes"])["title"] == [None, "Duplicate?"]
    # and the secret never leaves in clear, nor encrypted
    assert "TOP-SECRET-VALUE" not in response_text(client, today)
    assert "fernet:" not in response_text(client, today)
    assert any(r["model"] == "connections.ExternalSystem" and r["reason"] == "rotate payroll secret" for r in rows)


def response_text(client, day) -> str:
    response = client.get(URL, {"from": day.isoformat(), "to": day.isoformat()})
    return b"".join(response.streaming_content).decode()


def test_export_is_limited_to_the_period(client, auditor):
    record = of.open_exception(title="old one")
    record.history.update(history_date=timezone.now() - dt.timedelta(days=40))
    of.open_exception(title="new one")
    today = timezone.localdate()
    rows = rows_of(client.get(URL, {"from": (today - dt.timedelta(days=7)).isoformat(), "to": today.isoformat()}))
    titles = [json.loads(r["changes"]).get("title", [None, None])[1] for r in rows
              if r["model"] == "exceptions.ExceptionRecord"]
    assert titles == ["new one"]


def test_diff_is_against_the_previous_row_even_before_the_period(client, auditor):
    # given a record created 40 days ago and resolved today
    record = of.open_exception(title="long open")
    record.history.update(history_date=timezone.now() - dt.timedelta(days=40))
    from controlplane.exceptions.services import exception_resolve

    exception_resolve(actor=of.SYSTEM_ACTOR, exception_id=record.pk, note="done at last")
    today = timezone.localdate()
    rows = rows_of(client.get(URL, {"from": today.isoformat(), "to": today.isoformat()}))
    [row] = [r for r in rows if r["model"] == "exceptions.ExceptionRecord"]
    assert json.loads(row["changes"])["status"] == ["open", "resolved"]


def test_spreadsheet_formulas_are_neutralised(client, auditor):
    with acting(Actor(reason="=HYPERLINK(\"http://evil\")")):
        f.LegalEntityFactory(code="XX01")
    today = timezone.localdate()
    rows = rows_of(client.get(URL, {"from": today.isoformat(), "to": today.isoformat()}))
    reasons = {r["reason"] for r in rows if r["model"] == "masterdata.LegalEntity"}
    assert reasons == {"'=HYPERLINK(\"http://evil\")"}


def test_form_without_parameters_and_400_on_bad_period(client, auditor):
    page = client.get(URL)
    assert page.status_code == 200
    assert b'name="from"' in page.content
    assert client.get(URL, {"from": "yesterday", "to": "2025-01-01"}).status_code == 400
    assert client.get(URL, {"from": "2025-02-01", "to": "2025-01-01"}).status_code == 400


def test_staff_without_history_permissions_get_403_and_anonymous_go_to_login(client):
    anonymous = client.get(URL, {"from": "2025-01-01", "to": "2025-01-02"})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    client.force_login(of.staff_user(None, "nobody"))
    assert client.get(URL, {"from": "2025-01-01", "to": "2025-01-02"}).status_code == 403
