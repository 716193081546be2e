"""Events: recorded with the change, one outbox row per matching subscription, delivered as
Standard Webhooks-signed POSTs to a local receiver; 410 disables, 5xx retries, 4xx is final."""

from __future__ import annotations

import http.server
import threading

import pytest
from standardwebhooks.webhooks import Webhook

from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor
from controlplane.events.models import DomainEvent, Subscription
from controlplane.events.services import subscription_create, subscription_rotate_secret
from controlplane.expenses import services as xs
from controlplane.sync import dispatch
from controlplane.sync.models import JobState, OutboxJob

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP endpoint answering ``status`` and recording what it got."""

    def __init__(self):
        self.status = 204
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _expense(system, source_id="EV-1", entity="US01", employee="US-EMP1"):
    import datetime as dt

    data = {"legal_entity": entity, "employee": employee, "currency": "USD" if entity == "US01" else "EUR",
            "lines": [{"date": dt.date.today().isoformat(), "category": "TRAVEL", "amount": "115.00",
                       "merchant": f"Taxi {source_id}"}]}  # distinct: not suspected duplicates
    expense, _ = xs.expense_upsert_from_source(actor=Actor(system=system), source_system=system, source_id=source_id,
                                               data=data)
    return xs.expense_submit(actor=Actor(system=system), expense_id=expense.pk)


@pytest.fixture
def systems(org):
    return {code: ExternalSystem.objects.get(code=code) for code in ("expenses-app", "travel-tool", "payroll")}


def _subscribe(system, url, entities, types=("*",)):
    return subscription_create(actor=Actor(system=system), system=system, url=url, event_types=list(types),
                               legal_entities=entities)


def test_event_is_recorded_and_fanned_out_to_matching_subscriptions_only(systems, org, receiver):
    # given subscriptions: the source platform, another platform, payroll (US01), payroll (FR01 only)
    own = _subscribe(systems["expenses-app"], receiver.url, [org["US01"]])
    _subscribe(systems["travel-tool"], receiver.url, [org["US01"]])
    payroll = _subscribe(systems["payroll"], receiver.url, [org["US01"]], types=["expense.submitted"])
    _subscribe(systems["payroll"], receiver.url, [org["FR01"]])
    # when an expense of expenses-app in US01 is submitted
    expense = _expense(systems["expenses-app"])
    # then one expense.submitted event exists, delivered to the source platform and US01 payroll only
    event = DomainEvent.objects.get(event_type="expense.submitted")
    assert event.object_id == str(expense.pk)
    jobs = OutboxJob.objects.filter(operation="webhook.deliver", object_id=str(event.pk))
    assert sorted(j.payload["subscription_id"] for j in jobs) == sorted([own.pk, payroll.pk])


def test_delivery_is_signed_and_verifies_with_the_reference_library(systems, org, receiver):
    sub = _subscribe(systems["expenses-app"], receiver.url, [org["US01"]], types=["expense.submitted"])
    _expense(systems["expenses-app"])
    dispatch.run_once(operation="webhook.deliver", target_id=systems["expenses-app"].pk)
    headers, body = receiver.requests[0]
    payload = Webhook(sub.secret).verify(body, headers)
    assert payload["type"] == "expense.submitted"
    assert payload["data"]["source_id"] == "EV-1"
    assert headers["webhook-id"].startswith("msg_")
    assert OutboxJob.objects.get(operation="webhook.deliver").state == JobState.SUCCEEDED


def test_rotation_signs_with_both_secrets(systems, org, receiver):
    sub = _subscribe(systems["expenses-app"], receiver.url, [org["US01"]])
    old = sub.secret
    new = subscription_rotate_secret(actor=Actor(reason="t"), subscription_id=sub.pk).secret
    _expense(systems["expenses-app"])
    dispatch.run_once(operation="webhook.deliver", target_id=systems["expenses-app"].pk)
    headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split()) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)


@pytest.mark.parametrize(("status", "state", "active"), [
    (410, JobState.DEAD, False), (503, JobState.RETRY_WAIT, True), (429, JobState.RETRY_WAIT, True),
    (400, JobState.DEAD, True),
])
def test_answers_decide_retry_permanent_or_disable(systems, org, receiver, status, state, active):
    sub = _subscribe(systems["expenses-app"], receiver.url, [org["US01"]], types=["expense.submitted"])
    receiver.status = status
    _expense(systems["expenses-app"])
    dispatch.run_once(operation="webhook.deliver", target_id=systems["expenses-app"].pk)
    sub.refresh_from_db()
    assert OutboxJob.objects.get(operation="webhook.deliver").state == state
    assert (sub.active, sub.failure_count) == (active, 1)


def test_network_error_is_retryable_and_repeated_failure_disables(systems, org, monkeypatch):
    from controlplane.events import services

    monkeypatch.setattr(services, "DISABLE_AFTER_FAILURES", 2)
    sub = _subscribe(systems["expenses-app"], "http://127.0.0.1:9/closed", [org["US01"]])
    _expense(systems["expenses-app"], "EV-A")
    _expense(systems["expenses-app"], "EV-B")
    for _ in range(2):
        dispatch.run_once(operation="webhook.deliver", target_id=systems["expenses-app"].pk)
    sub.refresh_from_db()
    assert not sub.active and "consecutive" in sub.disabled_reason
    assert set(OutboxJob.objects.values_list("state", flat=True).filter(operation="webhook.deliver")) == {JobState.RETRY_WAIT}
    assert Subscription.objects.get(pk=sub.pk).failure_count == 2
