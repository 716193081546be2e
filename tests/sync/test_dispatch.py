"""Claiming, running and finishing jobs in-process (any database)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import controlplane.sync.testing  # noqa: F401 — registers the test.* handlers
from controlplane.core.correlation import correlation
from controlplane.exceptions.models import ExceptionRecord, ExceptionStatus
from controlplane.sync import dispatch
from controlplane.sync.models import AttemptOutcome, JobState, OutboxJob, SyncAttempt
from controlplane.sync.services import outbox_enqueue

pytestmark = pytest.mark.django_db


def enqueue(actor, operation="test.record", n=1, **kw):
    return [
        outbox_enqueue(actor=actor, target=kw.get("target"), operation=operation, subject=kw.get("subject"),
                       payload=kw.get("payload", {"n": i}), idempotency_key=f"{operation}:{kw.get('key', '')}{i}")
        for i in range(n)
    ]


def test_claim_takes_due_rows_once_and_leaves_future_ones(actor):
    # given three due jobs and one not due yet
    jobs = enqueue(actor, n=3)
    later = outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None, payload={},
                           idempotency_key="later", not_before=timezone.now() + timedelta(hours=1))
    # when two claims run one after the other
    first = dispatch.claim(operation="test.record", target_id=None, limit=10, worker_id="w1")
    second = dispatch.claim(operation="test.record", target_id=None, limit=10, worker_id="w2")
    # then the first took the three due rows, leased, with one attempt each; the second got nothing
    assert sorted(j.pk for j in first.jobs) == sorted(j.pk for j in jobs)
    assert all(j.state == JobState.IN_FLIGHT and j.attempts == 1 and j.lease_until and j.claimed_by == "w1"
               for j in first.jobs)
    assert second.jobs == []
    later.refresh_from_db()
    assert later.state == JobState.PENDING


def test_claim_respects_the_limit(actor):
    enqueue(actor, n=7)
    assert len(dispatch.claim(operation="test.record", target_id=None, limit=5).jobs) == 5
    assert len(dispatch.claim(operation="test.record", target_id=None, limit=5).jobs) == 2


def test_run_once_calls_the_handler_once_per_batch_and_records_attempts(actor):
    # given 7 jobs of an operation registered with batch_size 5
    jobs = enqueue(actor, n=7)
    # when a worker runs twice
    first = dispatch.run_once(operation="test.record", target_id=None)
    second = dispatch.run_once(operation="test.record", target_id=None)
    # then 5 then 2 jobs succeeded, in two handler calls, each with one succeeded attempt
    assert (first.claimed, first.more_due, second.claimed, second.more_due) == (5, True, 2, False)
    states = set(OutboxJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True))
    assert states == {JobState.SUCCEEDED}
    assert SyncAttempt.objects.filter(outcome=AttemptOutcome.SUCCEEDED).count() == 7
    done = OutboxJob.objects.get(pk=jobs[0].pk)
    assert done.response_summary["batch"] == 5
    # history: created + finished
    assert list(done.history.order_by("history_date").values_list("state", flat=True)) == ["pending", "succeeded"]


def test_correlation_id_is_restored_around_the_handler(actor):
    with correlation("from-the-api-request"):
        [job] = enqueue(actor)
    dispatch.run_once(operation="test.record", target_id=None)
    job.refresh_from_db()
    assert job.response_summary["correlation_id"] == "from-the-api-request"
    assert job.sync_attempts.get().correlation_id == "from-the-api-request"


def test_retryable_failure_waits_with_backoff_then_succeeds(actor, settings):
    settings.SYNC_BACKOFF_BASE_SECONDS = 10
    [job] = enqueue(actor, operation="test.flaky", payload={"fail_times": 1})
    before = timezone.now()
    dispatch.run_once(operation="test.flaky", target_id=None)
    job.refresh_from_db()
    # then it waits, within the full-jitter bound for try 1: [0, 10 * 2**1] seconds
    assert job.state == JobState.RETRY_WAIT
    assert job.last_error_class == "RetryableError"
    assert before <= job.next_attempt_at <= timezone.now() + timedelta(seconds=20)
    # when it is due again, the second try succeeds
    OutboxJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    dispatch.run_once(operation="test.flaky", target_id=None)
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 2)
    assert list(job.sync_attempts.order_by("number").values_list("outcome", flat=True)) == ["retry", "succeeded"]


def test_retry_after_is_honoured(actor):
    [job] = enqueue(actor, operation="test.flaky", payload={"fail_times": 1, "retry_after": 120})
    dispatch.run_once(operation="test.flaky", target_id=None)
    job.refresh_from_db()
    assert timezone.now() + timedelta(seconds=100) < job.next_attempt_at <= timezone.now() + timedelta(seconds=121)


def test_out_of_attempts_goes_dead_and_opens_one_exception(actor):
    # given a job whose handler always fails, registered with max_attempts=3
    [job] = enqueue(actor, operation="test.always_failing")
    # when it is tried three times
    for _ in range(3):
        OutboxJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
        dispatch.run_once(operation="test.always_failing", target_id=None)
    # then it is dead with one open sync_dead exception for a person
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.DEAD, 3)
    assert "gave up after 3 tries" in job.last_error
    exc = ExceptionRecord.objects.get(dedupe_key=f"sync_dead:{job.pk}")
    assert (exc.kind, exc.status) == ("sync_dead", ExceptionStatus.OPEN)


def test_permanent_error_goes_dead_at_once_with_one_exception(actor):
    [job] = enqueue(actor, operation="test.permanent")
    dispatch.run_once(operation="test.permanent", target_id=None)
    job.refresh_from_db()
    assert (job.state, job.attempts, job.last_error_class) == (JobState.DEAD, 1, "PermanentError")
    assert ExceptionRecord.objects.filter(kind="sync_dead", dedupe_key=f"sync_dead:{job.pk}").count() == 1
    # a second dead-letter of the same job does not open a second exception
    dispatch.open_dead_exception(job)
    assert ExceptionRecord.objects.filter(kind="sync_dead").count() == 1


def test_retry_schedule_is_followed_and_ends_dead(actor):
    # given the Standard Webhooks schedule (5s, 5m, 30m, 2h, 5h, 10h, 10h)
    [job] = enqueue(actor, operation="test.webhook")
    schedule = [5, 300, 1800, 7200, 18000, 36000, 36000]
    for attempt, delay in enumerate(schedule, start=1):
        OutboxJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
        start = timezone.now()
        dispatch.run_once(operation="test.webhook", target_id=None)
        job.refresh_from_db()
        # then after try n it waits schedule[n-1], jittered by at most 10%
        assert job.state == JobState.RETRY_WAIT, attempt
        waited = (job.next_attempt_at - start).total_seconds()
        assert delay * 0.9 - 1 <= waited <= delay * 1.1 + 1
    OutboxJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    dispatch.run_once(operation="test.webhook", target_id=None)
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.DEAD, 8)


def test_unregistered_operation_retries_instead_of_losing_the_job(actor):
    [job] = enqueue(actor, operation="nobody.handles_this")
    dispatch.run_once(operation="nobody.handles_this", target_id=None)
    job.refresh_from_db()
    assert (job.state, job.last_error_class) == (JobState.RETRY_WAIT, "NotRegistered")


def test_a_try_that_lost_its_lease_does_not_overwrite_the_new_claim(actor):
    # given a job claimed by worker A whose lease then expired and was recovered and re-claimed by B
    from controlplane.sync.relay import recover_expired_leases

    [job] = enqueue(actor)
    claim_a = dispatch.claim(operation="test.record", target_id=None, limit=1, worker_id="A")
    OutboxJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert recover_expired_leases() == 1
    OutboxJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    claim_b = dispatch.claim(operation="test.record", target_id=None, limit=1, worker_id="B")
    assert [j.pk for j in claim_b.jobs] == [job.pk]
    # when A finally finishes
    outcomes = dispatch.call_handler(dispatch.registry.get("test.record"), claim_a.jobs)
    dispatch.finalize(claim_a, outcomes, None, worker_id="A", duration_ms=5)
    # then A's try is recorded as stale and B still holds the job
    job.refresh_from_db()
    assert (job.state, job.claimed_by, job.attempts) == (JobState.IN_FLIGHT, "B", 2)
    assert list(job.sync_attempts.order_by("id").values_list("outcome", flat=True)) == ["lost", "stale"]
