"""The cheap single create keeps its guarantees: a cached token stops working the moment it is
revoked or its system disabled, the create's Idempotency-Key lock excludes another holder,
and key, expense and stored answer commit (or vanish) together."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from controlplane.api.idempotency import _lock_id
from controlplane.api.models import IdempotencyRecord
from controlplane.api.tokens import api_token_revoke
from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor
from controlplane.expenses.models import Expense
from tests.api.conftest import expense_body


@pytest.mark.django_db
def test_a_revoked_token_is_refused_on_the_next_request_though_it_was_just_cached(make_api):
    api = make_api()
    assert api.get("/api/v1/expenses/").status_code == 200  # checked, hence cached
    api_token_revoke(actor=Actor(reason="test"), token_id=api.token.pk, reason="leaked")
    assert api.get("/api/v1/expenses/").status_code == 401


@pytest.mark.django_db
def test_a_disabled_system_is_refused_on_the_next_request_though_its_token_was_just_cached(make_api):
    api = make_api("travel-tool")
    assert api.get("/api/v1/expenses/").status_code == 200
    system = ExternalSystem.objects.get(code="travel-tool")
    system.enabled = False
    system.save()
    assert api.get("/api/v1/expenses/").status_code == 401


@pytest.mark.django_db
def test_the_stored_answer_commits_with_the_expense(make_api):
    api = make_api()
    response = api.post("/api/v1/expenses/", expense_body("FAST-1"), key="fast-1")
    assert response.status_code == 201
    record = IdempotencyRecord.objects.get(key="fast-1")
    assert record.state == "completed" and bytes(record.response_body) == response.content
    assert Expense.objects.filter(source_id="FAST-1").count() == 1


@pytest.mark.django_db
def test_a_failed_store_leaves_neither_expense_nor_key(make_api, monkeypatch):
    # given storing the answer fails after the expense was written in the same transaction
    from controlplane.api.views import base

    def broken(pending, response):
        raise RuntimeError("disk full")

    monkeypatch.setattr(base, "idempotency_store", broken)
    api = make_api()
    api.client.raise_request_exception = False
    # when the create runs
    response = api.post("/api/v1/expenses/", expense_body("FAST-2"), key="fast-2")
    # then it fails as a whole: no expense, no key (a retry runs again)
    assert response.status_code == 500
    assert not Expense.objects.filter(source_id="FAST-2").exists()
    assert not IdempotencyRecord.objects.filter(key="fast-2").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_key_locked_by_another_transaction_is_409_and_nothing_is_written(make_api):
    # given another transaction holds the (caller, key) lock
    api = make_api()
    caller = f"system:{api.token.system_id}"
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(caller, "held-key")])
                held.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(30)
        # when a create arrives with that key
        response = api.post("/api/v1/expenses/", expense_body("LOCK-1"), key="held-key")
    finally:
        release.set()
        holder.join()
    # then 409, nothing created, the key still free
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert not Expense.objects.filter(source_id="LOCK-1").exists()
    assert not IdempotencyRecord.objects.filter(key="held-key").exists()
    # and once the holder is gone the same request runs
    assert api.post("/api/v1/expenses/", expense_body("LOCK-1"), key="held-key").status_code == 201
