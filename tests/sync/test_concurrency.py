"""Concurrent claims on PostgreSQL: SKIP LOCKED and the conditional UPDATE never let two
workers hold the same job. Threads with their own connections stand for worker processes."""

from __future__ import annotations

import threading
from collections import Counter
from unittest import mock

import pytest
from django.db import connection, transaction

import controlplane.sync.testing  # noqa: F401 — registers the test.* handlers
from controlplane.sync import dispatch
from controlplane.sync.models import JobState, OutboxJob
from controlplane.sync.services import outbox_enqueue

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jobs(actor):
    with mock.patch("controlplane.sync.kick.kick"):
        return [outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None, payload={"n": i},
                               idempotency_key=f"race:{i}") for i in range(300)]


def test_many_workers_claiming_at_once_never_double_claim(jobs):
    # given 300 due jobs and 6 workers starting together
    start = threading.Barrier(6)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        mine = claimed.setdefault(name, [])
        try:
            start.wait()
            while True:
                batch = dispatch.claim(operation="test.record", target_id=None, limit=7, worker_id=name)
                if not batch.jobs:
                    return
                mine.extend(j.pk for j in batch.jobs)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then every job was claimed exactly once, by one worker, with one attempt
    assert errors == []
    every = [pk for ids in claimed.values() for pk in ids]
    assert Counter(every).most_common(1)[0][1] == 1
    assert sorted(every) == sorted(j.pk for j in jobs)
    assert sum(1 for ids in claimed.values() if ids) > 1  # they really ran side by side
    assert set(OutboxJob.objects.values_list("state", "attempts").distinct()) == {(JobState.IN_FLIGHT, 1)}


def test_a_claim_skips_rows_another_transaction_holds(jobs):
    # given worker A inside its claim transaction, holding the 10 oldest due rows locked
    held = threading.Event()
    release = threading.Event()
    locked_ids: list[int] = []

    def worker_a() -> None:
        try:
            with transaction.atomic():
                rows = OutboxJob.objects.select_for_update().order_by("next_attempt_at", "id")[:10]
                locked_ids.extend(r.pk for r in rows)
                held.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    a = threading.Thread(target=worker_a)
    a.start()
    assert held.wait(timeout=30)
    result: dict = {}

    def worker_b() -> None:
        try:
            result["claim"] = dispatch.claim(operation="test.record", target_id=None, limit=10, worker_id="B")
        finally:
            connection.close()

    # when worker B claims meanwhile
    b = threading.Thread(target=worker_b)
    b.start()
    b.join(timeout=30)
    finished_while_a_held = not b.is_alive()
    release.set()
    a.join(timeout=30)
    b.join(timeout=30)
    # then B was not blocked by A's locks and took 10 other rows
    assert finished_while_a_held
    got = [j.pk for j in result["claim"].jobs]
    assert len(got) == 10 and not set(got) & set(locked_ids)
