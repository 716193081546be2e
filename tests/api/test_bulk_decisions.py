"""Bulk approval decisions and finance reviews through the API: per-item results under the
single endpoints' rules, identity assertion, problem details on bad input, idempotent replay."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from controlplane.events.models import DomainEvent
from controlplane.exceptions.models import ExceptionRecord
from controlplane.expenses.models import Expense
from controlplane.sync.models import OutboxJob
from tests.api.conftest import expense_body

pytestmark = pytest.mark.django_db

APPROVALS = "/api/v1/approvals/bulk/"
REVIEWS = "/api/v1/finance-reviews/bulk/"


def _submitted(api, n: int, employee: str = "US-EMP1", prefix: str = "B") -> list[str]:
    ids = []
    for i in range(n):
        response = api.post("/api/v1/expenses/", expense_body(f"{prefix}-{i}", employee=employee, submit=True))
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def _summary(response) -> list[tuple]:
    return [(r["index"], r["status"], r["code"], r["http_status"]) for r in response.json()["results"]]


def test_bulk_decisions_answer_per_item_under_the_single_endpoint_rules(make_api):
    # given three submitted expenses of an employee and one of their manager (routed to the VP)
    platform = make_api()
    first, second, third = _submitted(platform, 3)
    [own] = _submitted(platform, 1, employee="US-MGR", prefix="OWN")
    approvals = make_api(scopes=["approvals:write"])
    missing = str(uuid.uuid4())
    # when the manager decides them all in one request, with a self-approval, an unknown approver and a missing id
    response = approvals.post(APPROVALS, {"items": [
        {"expense": first, "approver": "US-MGR", "decision": "approve", "comment": "ok"},
        {"expense": own, "approver": "US-MGR", "decision": "approve"},
        {"expense": second, "approver": "US-MGR", "decision": "reject", "comment": "no receipt"},
        {"expense": third, "approver": "NOBODY", "decision": "approve"},
        {"expense": missing, "approver": "US-MGR", "decision": "approve"},
    ]})
    # then each item answers as the single endpoint would, and only the allowed ones happened
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (2, 3)
    assert _summary(response) == [(0, "ok", "", 200), (1, "error", "sod_violation", 403), (2, "ok", "", 200),
                                  (3, "error", "validation_failed", 422), (4, "error", "not_found", 404)]
    results = body["results"]
    assert (results[0]["expense"], results[0]["approval_state"]) == (first, "manager_approved")
    assert results[2]["approval_state"] == "rejected"
    assert results[3]["errors"] == [{"field": "approver", "code": "unknown", "detail": "Unknown employee."}]
    assert results[4]["expense"] is None and missing not in response.content.decode()
    record = ExceptionRecord.objects.get(kind="sod_conflict")
    assert (results[1]["exception_id"], record.object_id) == (record.pk, str(Expense.objects.get(public_id=own).pk))
    states = dict(Expense.objects.values_list("public_id", "approval_state"))
    assert {str(k): v for k, v in states.items()} == {first: "manager_approved", own: "submitted",
                                                      second: "rejected", third: "submitted"}


def test_bulk_finance_review_queues_one_posting_per_item_and_refuses_an_approver(make_api):
    # given two expenses approved in bulk by the manager and one still waiting
    platform = make_api()
    approved_ids = _submitted(platform, 2)
    [waiting] = _submitted(platform, 1, prefix="W")
    decided = make_api(scopes=["approvals:write"]).post(APPROVALS, {"items": [
        {"expense": eid, "approver": "US-MGR", "decision": "approve"} for eid in approved_ids]})
    assert decided.json()["succeeded"] == 2, decided.content
    finance = make_api(scopes=["finance:write"])
    # when the manager tries to review one they approved, then the VP reviews all three
    refused = finance.post(REVIEWS, {"reviewer": "US-MGR", "items": [{"expense": approved_ids[0]}]})
    response = finance.post(REVIEWS, {"reviewer": "US-VP", "comment": "month end", "items": [
        {"expense": eid} for eid in (*approved_ids, waiting)]})
    # then the manager is refused (and recorded), the VP's reviews queue one posting each, the waiting one conflicts
    assert _summary(refused) == [(0, "error", "sod_violation", 403)]
    assert ExceptionRecord.objects.get(kind="sod_conflict").payload["rule"] == "approver_reviews"
    assert response.status_code == 200, response.content
    assert _summary(response) == [(0, "ok", "", 200), (1, "ok", "", 200), (2, "error", "invalid_transition", 409)]
    assert [r["posting_state"] for r in response.json()["results"][:2]] == ["posting", "posting"]
    pks = sorted(Expense.objects.filter(public_id__in=approved_ids).values_list("pk", flat=True))
    assert sorted(OutboxJob.objects.filter(operation="odoo.post_expense").values_list("idempotency_key", flat=True)) \
        == sorted(f"odoo.post_expense:{pk}:r1" for pk in pks)
    reviewed = DomainEvent.objects.filter(event_type="expense.finance_reviewed")
    assert sorted(reviewed.values_list("object_id", flat=True)) == sorted(str(pk) for pk in pks)
    assert {e.payload["comment"] for e in reviewed} == {"month end"}


def test_a_replayed_key_answers_the_first_response_and_decides_nothing_again(make_api):
    # given a submitted expense and a bulk decision sent with a key
    [eid] = _submitted(make_api(), 1)
    approvals = make_api(scopes=["approvals:write"])
    body = {"items": [{"expense": eid, "approver": "US-MGR", "decision": "approve"}]}
    first = approvals.post(APPROVALS, body, key="bulk-decide-1")
    events = DomainEvent.objects.count()
    # when the same request is sent again with the same key, and another request reuses it
    again = approvals.post(APPROVALS, body, key="bulk-decide-1")
    other = approvals.post(APPROVALS, {"items": [{**body["items"][0], "comment": "x"}]}, key="bulk-decide-1")
    # then the first answer is replayed byte for byte, nothing more happens, and the reuse is refused
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert _summary(first) == [(0, "ok", "", 200)]
    assert DomainEvent.objects.count() == events
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # and without a key, nothing is reviewed
    finance = make_api(scopes=["finance:write"])
    missing_key = finance.post(REVIEWS, {"reviewer": "US-VP", "items": [{"expense": eid}]}, key=None)
    assert (missing_key.status_code, missing_key.json()["code"]) == (400, "idempotency_key_missing")
    assert Expense.objects.get(public_id=eid).posting_state != "posting"


GOOD = {"expense": "{eid}", "approver": "US-MGR", "decision": "approve"}


@pytest.mark.parametrize("path,body,field", [
    (APPROVALS, {"items": []}, "items"),
    (APPROVALS, {}, "items"),
    (APPROVALS, {"items": [GOOD, {"expense": "not-a-uuid", "decision": "approve"}]}, "items.1.expense"),
    (APPROVALS, {"items": [GOOD, {"expense": "{eid}", "approver": "US-MGR", "decision": "maybe"}]}, "items.1.decision"),
    (APPROVALS, {"items": [{"expense": "not-a-uuid", "decision": "approve"}]}, "items.0.expense"),
    (REVIEWS, {"reviewer": "US-VP", "items": [{"expense": "{eid}"}] * 501}, "items"),
    (REVIEWS, {"reviewer": "US-VP", "items": "all"}, "items"),
])
def test_bad_input_is_a_problem_and_decides_nothing(make_api, path, body, field):
    [eid] = _submitted(make_api(), 1)
    api = make_api()
    if isinstance(body.get("items"), list):
        body = {**body, "items": [{k: (eid if v == "{eid}" else v) for k, v in i.items()} for i in body["items"]]}
    response = api.post(path, body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert Expense.objects.get(public_id=eid).approval_state == "submitted"


def test_a_session_decides_as_its_own_employee_only(make_api):
    # given a submitted expense and the manager signed in (approver role)
    [mine, other] = _submitted(make_api(), 2)
    manager = get_user_model().objects.get(username="us-mgr")
    manager.is_staff = True  # the API admits staff sessions only
    manager.save()
    client = APIClient()
    client.force_login(manager)
    # when they decide one without naming anyone and one in the VP's name
    response = client.post(APPROVALS, {"items": [
        {"expense": mine, "decision": "approve"}, {"expense": other, "approver": "US-VP", "decision": "approve"},
    ]}, format="json", HTTP_IDEMPOTENCY_KEY="session-bulk-1")
    # then the first is decided as them, the second refused
    assert response.status_code == 200, response.content
    assert _summary(response) == [(0, "ok", "", 200), (1, "error", "not_own_identity", 403)]
    step = Expense.objects.get(public_id=mine).approval_steps.get()
    assert (step.decided_by.code, step.decided_by_user.username) == ("US-MGR", "us-mgr")
    assert Expense.objects.get(public_id=other).approval_state == "submitted"
