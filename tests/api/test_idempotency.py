"""Idempotency-Key: replay byte for byte, 422 on reuse with another body, 409 while running,
400 when missing, release on retryable answers, and 20 concurrent requests on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from controlplane.api.idempotency import idempotency_claim, idempotency_purge
from controlplane.api.models import IdempotencyRecord
from controlplane.expenses.models import Expense
from tests.api.conftest import expense_body


@pytest.mark.django_db
class TestSemantics:
    def test_same_key_same_body_replays_the_first_response_byte_for_byte(self, make_api):
        api = make_api()
        first = api.post("/api/v1/expenses/", expense_body(), key="k-1")
        second = api.post("/api/v1/expenses/", expense_body(), key="k-1")
        assert first.status_code == second.status_code == 201
        assert second.content == first.content
        assert second["Location"] == first["Location"]
        assert second["Idempotent-Replayed"] == "true"
        assert Expense.objects.get().revision == 1

    def test_same_key_other_body_is_422(self, make_api):
        api = make_api()
        api.post("/api/v1/expenses/", expense_body(), key="k-2")
        response = api.post("/api/v1/expenses/", expense_body(amount="1.00"), key="k-2")
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"

    def test_same_key_other_path_is_422(self, make_api):
        api = make_api()
        eid = api.post("/api/v1/expenses/", expense_body(), key="k-3").json()["id"]
        response = api.post(f"/api/v1/expenses/{eid}/submit/", {}, key="k-3")
        assert response.status_code == 422

    def test_missing_or_malformed_key_is_400(self, make_api):
        api = make_api()
        for key in (None, "", "x" * 256, "bad key"):
            response = api.post("/api/v1/expenses/", expense_body(), key=key)
            assert response.status_code == 400, key
            assert response.json()["code"] == "idempotency_key_missing"
        assert not Expense.objects.exists()

    def test_in_progress_key_is_409_until_its_lease_runs_out(self, make_api):
        api = make_api()
        from controlplane.api.idempotency import fingerprint
        from controlplane.api.views.base import _Replay  # noqa: F401  (the module the view uses)

        caller = f"system:{api.token.system_id}"
        body = expense_body()
        import json

        raw = json.dumps(body).encode()
        fp = fingerprint("POST", "/api/v1/expenses/", "application/json", raw)
        # given a claim held by a request still running
        idempotency_claim(caller=caller, key="k-4", fingerprint=fp)
        # when the same key arrives
        response = api.client.post("/api/v1/expenses/", raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-4")
        # then 409, and nothing was created
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_in_progress"
        assert not Expense.objects.exists()
        # and once the lease is over, a retry takes the claim over and runs
        IdempotencyRecord.objects.filter(key="k-4").update(locked_until=timezone.now() - timedelta(seconds=1))
        response = api.client.post("/api/v1/expenses/", raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-4")
        assert response.status_code == 201

    def test_keys_are_per_caller(self, make_api):
        a, b = make_api("expenses-app"), make_api("travel-tool")
        assert a.post("/api/v1/expenses/", expense_body(), key="shared").status_code == 201
        assert b.post("/api/v1/expenses/", expense_body(), key="shared").status_code == 201
        assert Expense.objects.count() == 2

    def test_conflict_answer_releases_the_key(self, make_api):
        api = make_api()
        eid = api.post("/api/v1/expenses/", expense_body()).json()["id"]
        api.post(f"/api/v1/expenses/{eid}/withdraw/", {})
        refused = api.post(f"/api/v1/expenses/{eid}/submit/", {}, key="k-5")
        assert refused.status_code == 409
        assert not IdempotencyRecord.objects.filter(key="k-5").exists()

    def test_validation_failure_is_replayed(self, make_api):
        api = make_api()
        bad = expense_body()
        bad["employee"] = "NOBODY"
        first = api.post("/api/v1/expenses/", bad, key="k-6")
        second = api.post("/api/v1/expenses/", bad, key="k-6")
        assert first.status_code == second.status_code == 422
        assert first.content == second.content

    def test_expired_records_are_purged_and_the_key_reusable(self, make_api):
        api = make_api()
        api.post("/api/v1/expenses/", expense_body("P-1"), key="k-7")
        IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert idempotency_purge() == 1
        assert api.post("/api/v1/expenses/", expense_body("P-2"), key="k-7").status_code == 201


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_create_one_expense(make_api):
    # given a token and one request body
    api = make_api()
    token = api.client._credentials["HTTP_AUTHORIZATION"]
    barrier = threading.Barrier(20)
    results: list[tuple[int, bytes, bool]] = []
    lock = threading.Lock()

    def send():
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=token)
        try:
            barrier.wait()
            response = client.post("/api/v1/expenses/", expense_body("CONC-1"), format="json",
                                   HTTP_IDEMPOTENCY_KEY="same-key")
            with lock:
                results.append((response.status_code, response.content, response.has_header("Idempotent-Replayed")))
        finally:
            connection.close()

    # when 20 threads send it at once with the same key
    threads = [threading.Thread(target=send) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then one expense exists, exactly one fresh 201, and every other answer is a 409 or the replayed 201
    assert Expense.objects.filter(source_id="CONC-1").count() == 1
    assert len(results) == 20
    assert {code for code, _, _ in results} <= {201, 409}
    fresh = [body for code, body, replayed in results if code == 201 and not replayed]
    replays = [body for code, body, replayed in results if code == 201 and replayed]
    assert len(fresh) == 1
    assert all(body == fresh[0] for body in replays)  # byte-identical to the first
    assert IdempotencyRecord.objects.get(key="same-key").state == "completed"
