"""``POST /api/v1/expenses/bulk/``: per-item results over the set-based ingest, the same
answer and rows as single creates, scope per item, and a query count that does not grow
with the number of expenses."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controlplane.expenses.models import Expense
from tests.api.conftest import expense_body

pytestmark = pytest.mark.django_db

BULK = "/api/v1/expenses/bulk/"


def test_bulk_mixes_created_updated_and_per_item_errors(make_api):
    # given a platform token for US01 and an expense it sent before
    api = make_api()
    assert api.post("/api/v1/expenses/", expense_body("M-OLD")).status_code == 201
    invalid = expense_body("M-BAD")
    invalid["lines"][0]["amount"] = "-1"
    items = [
        expense_body("M-1", lines=3),
        expense_body("M-OLD", amount="130.00"),       # known: amended
        expense_body("M-FR", entity="FR01", employee="FR-EMP1"),  # outside the token's entities
        invalid,                                       # refused by the serializer
        expense_body("M-1", amount="99.00", lines=3),  # repeated in the request: amended
        {**expense_body("M-X"), "source_system": "travel-tool"},  # another system's name
    ]
    # when they arrive in one request
    response = api.post(BULK, {"items": items})
    # then each item has its own result and the good ones are written
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created", "updated", "error", "error", "updated", "error"]
    assert [r["index"] for r in body["results"]] == list(range(6))
    assert (body["created"], body["updated"], body["failed"], body["lines"]) == (1, 2, 3, 7)
    assert body["results"][2]["errors"] == [{"field": "legal_entity", "code": "unknown",
                                             "detail": "Unknown legal entity."}]
    assert body["results"][3]["errors"][0]["field"] == "lines"
    assert body["results"][5]["errors"][0]["code"] == "not_allowed"
    m1 = Expense.objects.get(source_id="M-1")
    assert str(m1.public_id) == body["results"][0]["id"] == body["results"][4]["id"]
    assert (m1.revision, m1.lines.count(), str(m1.total_amount)) == (2, 3, "297.00")
    assert Expense.objects.get(source_id="M-OLD").revision == 2
    assert not Expense.objects.filter(source_id__in=["M-FR", "M-BAD", "M-X"]).exists()


def _comparable(detail: dict) -> dict:
    varying = {"id", "source_id", "created_at", "updated_at", "submitted_at", "posting_reference"}
    out = {k: v for k, v in detail.items() if k not in varying}
    for line in out["lines"]:
        line.pop("merchant")
    out["policy_results"] = sorted(out["policy_results"], key=lambda r: r["code"])
    out["approval_steps"] = [{k: v for k, v in step.items() if not k.endswith("_at")} for step in out["approval_steps"]]
    return out


def test_bulk_answers_like_single_creates(make_api):
    # given the same body sent alone and in bulk, to submit (merchants differ, or the second
    # would be flagged as a duplicate of the first)
    api = make_api()
    alone, in_bulk = expense_body("S-1", lines=2, submit=True), expense_body("B-1", lines=2, submit=True)
    for line in in_bulk["lines"]:
        line["merchant"] = "Rail B"
    single = api.post("/api/v1/expenses/", alone)
    bulk = api.post(BULK, {"items": [in_bulk]})
    assert single.status_code == 201 and bulk.status_code == 200, bulk.content
    # then both expenses read the same through the API: lines, totals, policy results, approval steps
    a = api.get(f"/api/v1/expenses/{single.json()['id']}/").json()
    b = api.get(f"/api/v1/expenses/{bulk.json()['results'][0]['id']}/").json()
    assert _comparable(a) == _comparable(b)
    assert b["approval_state"] == "submitted" and len(b["approval_steps"]) > 0


def _queries(api, n: int, prefix: str) -> int:
    items = [expense_body(f"{prefix}-{i}", lines=5) for i in range(n)]
    with CaptureQueriesContext(connection) as ctx:
        response = api.post(BULK, {"items": items})
    assert response.status_code == 200 and response.json()["created"] == n, response.content
    return len(ctx.captured_queries)


def test_bulk_query_count_does_not_grow_with_expenses(make_api):
    # given one request of 1 expense and one of 20 (5 lines each)
    api = make_api()
    _queries(api, 1, "WARM")  # the token's first use records it (a few queries once)
    one, twenty = _queries(api, 1, "Q1"), _queries(api, 20, "Q20")
    print(f"\nbulk endpoint queries: 1 expense = {one}, 20 expenses = {twenty}")
    # then the whole request (auth, idempotency, ingest) takes the same number of queries
    assert twenty == one
