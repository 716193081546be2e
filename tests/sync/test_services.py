"""Enqueue and replay."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from unittest import mock

import pytest

from controlplane.core.correlation import correlation
from controlplane.sync.models import JobState, OutboxJob
from controlplane.sync.services import canonical_json, outbox_enqueue

pytestmark = pytest.mark.django_db


def test_enqueue_stores_snapshot_hash_and_correlation(actor):
    # given a payload with a Decimal, under a request's correlation id
    payload = {"amount": Decimal("12.50"), "ref": "CP-1"}
    # when enqueued
    with correlation("req-123"):
        job = outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None,
                             payload=payload, idempotency_key="k-1")
    # then the row holds the canonical snapshot, its SHA-256 and the correlation id
    job.refresh_from_db()
    assert job.state == JobState.PENDING
    assert job.payload == {"amount": "12.50", "ref": "CP-1"}
    assert job.payload_sha256 == hashlib.sha256(canonical_json(payload).encode()).hexdigest()
    assert job.correlation_id == "req-123"
    assert job.history.count() == 1


def test_enqueue_is_idempotent_per_key(actor):
    first = outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None,
                           payload={"a": 1}, idempotency_key="same")
    again = outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None,
                           payload={"a": 2}, idempotency_key="same")
    assert again.pk == first.pk
    assert OutboxJob.objects.count() == 1
    assert again.payload == {"a": 1}


def test_enqueue_kicks_only_after_commit_and_never_raises_when_broker_down(actor, django_capture_on_commit_callbacks):
    # given a broker that refuses every publish
    from kombu.exceptions import OperationalError

    with mock.patch("controlplane.sync.tasks.dispatch_task.apply_async",
                    side_effect=OperationalError("redis down")) as publish:
        # when a job is enqueued inside a transaction that then commits
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            job = outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None,
                                 payload={}, idempotency_key="k-broker")
            # then nothing is published before commit
            assert publish.call_count == 0
    # then the kick was attempted once after commit, failed quietly, and left the row for the relay
    assert len(callbacks) == 1
    assert publish.call_count == 1
    job.refresh_from_db()
    assert job.state == JobState.PENDING
    assert job.kicked_at is None
