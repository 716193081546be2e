"""A real ``celery -A controlplane worker`` process on Redis consuming outbox jobs end to end,
and the relay re-publishing what the broker lost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

import controlplane.sync.testing  # noqa: F401 — registers the test.* handlers
from controlplane.celery import app
from controlplane.core.correlation import correlation
from controlplane.sync import relay
from controlplane.sync.models import JobState, OutboxJob, SyncAttempt
from controlplane.sync.services import outbox_enqueue
from tests.sync import workers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def purge_queues():
    def purge() -> int:
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            return sum(channel.queue_purge(q) or 0 for q in workers.QUEUES.split(","))
    purge()
    return purge


@pytest.fixture
def worker(tmp_path, purge_queues):
    procs = []

    def start(name="w1", **env):
        proc = workers.worker(name, settings.CELERY_BROKER_URL, tmp_path, **env).start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


def all_done(ids):
    return lambda: OutboxJob.objects.filter(pk__in=ids, state=JobState.SUCCEEDED).count() == len(ids)


def test_a_worker_process_consumes_jobs_end_to_end(actor, worker):
    # given a running worker
    w = worker()
    # when jobs are enqueued under a request's correlation id (kicked on commit)
    with correlation("cid-e2e-0001"):
        jobs = [outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None,
                               payload={"n": i}, idempotency_key=f"e2e:{i}") for i in range(12)]
    ids = [j.pk for j in jobs]
    # then the worker runs them all, once each, in another process, under that correlation id
    workers.wait_until(all_done(ids), timeout=90, message="the worker to finish the jobs")
    done = list(OutboxJob.objects.filter(pk__in=ids))
    assert all(j.attempts == 1 and j.response_summary["pid"] != 0 for j in done)
    assert {j.response_summary["correlation_id"] for j in done} == {"cid-e2e-0001"}
    assert SyncAttempt.objects.filter(job_id__in=ids).count() == 12
    # and its logs are JSON lines carrying the correlation id
    lines = [json.loads(x) for x in w.log().splitlines() if x.startswith("{")]
    assert any(rec.get("correlation_id") == "cid-e2e-0001" and "running test.record" in rec.get("message", "")
               for rec in lines)


def test_the_relay_republishes_what_the_broker_lost(actor, worker, purge_queues):
    # given jobs enqueued (their wake-ups published) and then the broker losing every message
    jobs = [outbox_enqueue(actor=actor, target=None, operation="test.record", subject=None,
                           payload={"n": i}, idempotency_key=f"lost:{i}") for i in range(9)]
    ids = [j.pk for j in jobs]
    assert purge_queues() >= 1
    # when the relay runs (after the republish delay) and then a worker starts
    published = relay.relay(now=timezone.now() + timedelta(seconds=settings.SYNC_RELAY_REPUBLISH_AFTER_SECONDS + 1))
    assert published["published"] >= 1
    worker()
    # then the worker consumes the re-published wake-ups and every job succeeds exactly once
    workers.wait_until(all_done(ids), timeout=90, message="the relayed jobs to finish")
    assert set(OutboxJob.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_a_killed_worker_loses_no_job(actor, worker):
    # given a worker in the middle of a slow job, with a short lease
    env = {"SYNC_LEASE_SECONDS": "6", "CELERY_TASK_TIME_LIMIT": "5", "CELERY_TASK_SOFT_TIME_LIMIT": "4"}
    w = worker("victim", **env)
    [job] = [outbox_enqueue(actor=actor, target=None, operation="test.sleep", subject=None,
                            payload={"seconds": 30}, idempotency_key="sleepy")]
    workers.wait_until(lambda: OutboxJob.objects.get(pk=job.pk).state == JobState.IN_FLIGHT, timeout=60,
                       message="the job to be claimed")
    # when the worker (main process and pool) is SIGKILLed and the job's payload is made quick
    w.kill_group()
    OutboxJob.objects.filter(pk=job.pk).update(payload={"seconds": 0})
    worker("rescuer", **env)
    # then the relay recovers the expired lease and the new worker finishes the job
    def relayed_and_done():
        relay.relay()
        return OutboxJob.objects.get(pk=job.pk).state == JobState.SUCCEEDED
    workers.wait_until(relayed_and_done, timeout=120, interval=1, message="recovery of the lost job")
    outcomes = list(SyncAttempt.objects.filter(job_id=job.pk).order_by("id").values_list("outcome", flat=True))
    assert outcomes[0] == "lost" and outcomes[-1] == "succeeded"
