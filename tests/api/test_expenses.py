"""Expenses through the API: create/upsert by source reference, amend, submit, withdraw, list."""

from __future__ import annotations

import pytest

from controlplane.expenses.models import Expense
from controlplane.sync.models import OutboxJob
from tests.api.conftest import expense_body

pytestmark = pytest.mark.django_db


def test_create_then_resend_without_key_upserts_the_same_expense(make_api):
    # given a platform token
    api = make_api()
    # when it creates an expense, then sends the same source reference again under another key
    first = api.post("/api/v1/expenses/", expense_body())
    second = api.post("/api/v1/expenses/", expense_body(amount="120.00"))
    # then one expense exists, created once and amended once
    assert first.status_code == 201, first.content
    assert second.status_code == 200, second.content
    assert first.json()["id"] == second.json()["id"]
    assert first["Location"].endswith(f"/api/v1/expenses/{first.json()['id']}/")
    expense = Expense.objects.get()
    assert (expense.revision, str(expense.total_amount)) == (2, "120.00")


def test_create_and_submit_records_event_and_lists(make_api):
    api = make_api()
    created = api.post("/api/v1/expenses/", expense_body(submit=True))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["approval_state"] == "submitted"
    detail = api.get(f"/api/v1/expenses/{body['id']}/").json()
    assert detail["lines"][0]["category"] == "TRAVEL"
    listed = api.get("/api/v1/expenses/", approval_state="submitted")
    assert [e["id"] for e in listed.json()["results"]] == [body["id"]]


def test_amend_and_withdraw(make_api):
    api = make_api()
    eid = api.post("/api/v1/expenses/", expense_body()).json()["id"]
    amended = api.patch(f"/api/v1/expenses/{eid}/", {"purpose": "Changed"})
    assert amended.status_code == 200, amended.content
    assert amended.json()["purpose"] == "Changed"
    withdrawn = api.post(f"/api/v1/expenses/{eid}/withdraw/", {"reason": "duplicate"})
    assert withdrawn.status_code == 200, withdrawn.content
    assert withdrawn.json()["approval_state"] == "withdrawn"
    again = api.post(f"/api/v1/expenses/{eid}/submit/")
    assert again.status_code == 409
    assert again["Content-Type"] == "application/problem+json"
    assert again.json()["code"] == "invalid_transition"


def test_validation_problem_lists_fields(make_api):
    api = make_api()
    body = expense_body()
    body["lines"][0]["category"] = "NOPE"
    response = api.post("/api/v1/expenses/", body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and problem["code"] == "validation_failed"
    assert any(e["field"].startswith("lines.0.category") for e in problem["errors"]), problem


def test_bulk_upsert_reports_per_item(make_api):
    api = make_api()
    bad = expense_body("B-2")
    bad["employee"] = "NOBODY"
    response = api.post("/api/v1/expenses/bulk/", {"items": [expense_body("B-1", lines=3), bad, expense_body("B-3")]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["failed"], body["lines"]) == (2, 1, 4)
    assert body["results"][1]["status"] == "error"
    assert Expense.objects.count() == 2


def test_finance_review_and_payment_through_api(make_api):
    platform = make_api()
    eid = platform.post("/api/v1/expenses/", expense_body(submit=True)).json()["id"]
    approvals = make_api("expenses-app", scopes=["approvals:write", "expenses:read"])
    pending = approvals.get("/api/v1/approvals/pending/", approver="US-MGR")
    assert pending.status_code == 200, pending.content
    assert [p["expense"]["id"] for p in pending.json()["results"]] == [eid]
    decided = approvals.post(f"/api/v1/expenses/{eid}/decision/", {"approver": "US-MGR", "decision": "approve"})
    assert decided.status_code == 200, decided.content
    assert decided.json()["approval_state"] == "manager_approved"
    finance = make_api("expenses-app", scopes=["finance:write"])
    reviewed = finance.post(f"/api/v1/expenses/{eid}/finance-review/", {"reviewer": "US-VP"})
    assert reviewed.status_code == 200, reviewed.content
    assert OutboxJob.objects.filter(operation="odoo.post_expense").count() == 1
    payroll = make_api("payroll", scopes=["payments:write"])
    paid = payroll.post(f"/api/v1/expenses/{eid}/payment/", {"payment_ref": "PAY-1"})
    assert paid.status_code == 200, paid.content
    assert paid.json()["payment_state"] == "paid"


def test_submitter_cannot_approve_own_expense(make_api):
    platform = make_api()
    eid = platform.post("/api/v1/expenses/", expense_body(submit=True)).json()["id"]
    response = platform.post(f"/api/v1/expenses/{eid}/decision/", {"approver": "US-EMP1", "decision": "approve"})
    assert response.status_code == 403, response.content
