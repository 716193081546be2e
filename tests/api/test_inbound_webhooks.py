"""Inbound Standard Webhooks: verified on the raw body, stored raw, deduplicated by id,
processed later through the same services."""

from __future__ import annotations

import json
import time

import pytest

from controlplane.api.models import InboundWebhook
from controlplane.connections.models import ExternalSystem
from controlplane.expenses.models import Expense
from controlplane.sync import dispatch
from controlplane.sync.models import JobState, OutboxJob
from integrations.webhooks import signature_headers
from tests.api.conftest import expense_body

pytestmark = pytest.mark.django_db

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
URL = "/api/v1/webhooks/expenses-app/"


@pytest.fixture
def platform(org):
    system = ExternalSystem.objects.get(code="expenses-app")
    system.set_credentials({"webhook_secrets": ["whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", SECRET]})
    system.save()
    return system


def send(client, body: bytes, *, msg_id="msg_1", ts=None, secret=SECRET, tamper=None):
    headers = signature_headers([secret], msg_id, body, timestamp=ts if ts is not None else int(time.time()))
    sent = tamper if tamper is not None else body
    return client.post(URL, sent, content_type="application/json",
                       **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def message(source_id="WH-1", submit=True) -> bytes:
    return json.dumps({"type": "expense.upsert", "data": expense_body(source_id, submit=submit)}).encode()


def test_verified_message_is_stored_then_processed_through_the_services(client, platform):
    # given a signed upsert message
    body = message()
    # when it arrives
    response = send(client, body)
    # then it is acknowledged, stored raw, and nothing is applied yet
    assert response.status_code == 202, response.content
    row = InboundWebhook.objects.get()
    assert bytes(row.body) == body and row.state == "received"
    assert not Expense.objects.exists()
    # when the outbox job runs / then the expense exists, submitted, and the row says so
    dispatch.run_once(operation="inbound.process", target_id=None)
    row.refresh_from_db()
    assert row.state == "processed", row.result
    expense = Expense.objects.get(source_id="WH-1")
    assert (expense.source_system, expense.approval_state) == (platform, "submitted")


def test_replayed_id_is_not_processed_twice(client, platform):
    body = message()
    assert send(client, body, msg_id="msg_dup").status_code == 202
    again = send(client, body, msg_id="msg_dup")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert InboundWebhook.objects.count() == 1
    assert OutboxJob.objects.filter(operation="inbound.process").count() == 1


@pytest.mark.parametrize("case", ["tampered", "stale", "future", "wrong_secret", "unsigned"])
def test_refused_messages_leave_no_trace(client, platform, case):
    body = message()
    if case == "tampered":
        response = send(client, body, tamper=body.replace(b"115.00", b"999.00"))
    elif case == "stale":
        response = send(client, body, ts=int(time.time()) - 301)
    elif case == "future":
        response = send(client, body, ts=int(time.time()) + 301)
    elif case == "wrong_secret":
        response = send(client, body, secret="whsec_" + "WFlaQUJDREVGR0hJSktMTU5PUFFSU1RV")
    else:
        response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"].startswith("webhook_")
    assert not InboundWebhook.objects.exists()


def test_unknown_or_unconfigured_system_is_404(client, org):
    body = message()
    assert client.post("/api/v1/webhooks/nobody/", body, content_type="application/json").status_code == 404
    # expenses-app has no webhook secret in this test
    assert send(client, body).status_code == 404


def test_refused_content_fails_the_job_and_keeps_the_raw_message(client, platform):
    bad = json.loads(message())
    bad["data"]["legal_entity"] = "NOPE"
    assert send(client, json.dumps(bad).encode(), msg_id="msg_bad").status_code == 202
    dispatch.run_once(operation="inbound.process", target_id=None)
    row = InboundWebhook.objects.get()
    assert row.state == "failed" and row.result["code"] == "unknown_legal_entity"
    assert OutboxJob.objects.get(operation="inbound.process").state == JobState.DEAD
