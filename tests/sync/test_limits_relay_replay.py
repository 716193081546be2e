"""Per-target limits, back-off distribution, the relay, batch windows, replay and policies."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

import controlplane.sync.testing  # noqa: F401 — registers the test.* handlers
from controlplane.core.errors import ValidationFailed
from controlplane.exceptions.models import ExceptionRecord, ExceptionStatus
from controlplane.sync import dispatch, relay
from controlplane.sync.backoff import backoff_delay
from controlplane.sync.limits import gate_pause
from controlplane.sync.models import JobState, OutboxJob, SyncMode
from controlplane.sync.policies import sync_policy_set
from controlplane.sync.routing import route_task
from controlplane.sync.services import outbox_enqueue, outbox_replay
from tests.factories import ExternalSystemFactory

pytestmark = pytest.mark.django_db


def enqueue(actor, operation="test.record", n=1, target=None, key="", payload=None):
    return [
        outbox_enqueue(actor=actor, target=target, operation=operation, subject=None,
                       payload=payload or {"n": i}, idempotency_key=f"{operation}:{key}{i}")
        for i in range(n)
    ]


# --- back-off -----------------------------------------------------------------------------
def test_backoff_grows_with_full_jitter_within_bounds():
    rng = random.Random(42)
    samples = {a: [backoff_delay(a, base=2, cap=600, rng=rng) for _ in range(2000)] for a in range(1, 12)}
    for attempt, values in samples.items():
        ceiling = min(600, 2 * 2**attempt)
        # every delay lies in [0, min(cap, base * 2**attempt)] ...
        assert all(0 <= v <= ceiling for v in values)
        # ... spread over the whole range (full jitter), not bunched at the top
        assert min(values) < ceiling * 0.05 and max(values) > ceiling * 0.95
        assert ceiling * 0.4 < sum(values) / len(values) < ceiling * 0.6
    # and the ceiling grows until the cap
    means = [sum(samples[a]) / 2000 for a in range(1, 9)]
    assert means == sorted(means)
    assert max(samples[11]) <= 600


# --- per-target limits ----------------------------------------------------------------------
def test_max_in_flight_limits_concurrent_calls_per_target(actor):
    odoo = ExternalSystemFactory(max_in_flight=1, rate_limit_per_second=None)
    enqueue(actor, n=2, target=odoo, operation="test.flaky")
    first = dispatch.claim(operation="test.flaky", target_id=odoo.pk, limit=1)
    second = dispatch.claim(operation="test.flaky", target_id=odoo.pk, limit=1)
    assert len(first.jobs) == 1
    assert (second.jobs, second.limited, second.wait_seconds) == ([], "max_in_flight", None)
    # once the first call finishes, the next may start
    dispatch.finalize(first, dispatch.call_handler(dispatch.registry.get("test.flaky"), first.jobs),
                      dispatch.registry.get("test.flaky"), worker_id="w", duration_ms=1)
    assert len(dispatch.claim(operation="test.flaky", target_id=odoo.pk, limit=1).jobs) == 1


def test_rate_limit_is_a_token_bucket_per_target(actor):
    odoo = ExternalSystemFactory(max_in_flight=10, rate_limit_per_second=Decimal("2"))
    enqueue(actor, n=5, target=odoo)
    now = timezone.now()
    # a full bucket allows a burst of 2 calls, then says how long to wait for the next token
    got = [dispatch.claim(operation="test.record", target_id=odoo.pk, limit=1, now=now) for _ in range(3)]
    assert [len(c.jobs) for c in got] == [1, 1, 0]
    assert got[2].limited == "rate_limit" and 0 < got[2].wait_seconds <= 0.5
    # half a second later one more token is there
    later = dispatch.claim(operation="test.record", target_id=odoo.pk, limit=1, now=now + timedelta(seconds=0.5))
    assert len(later.jobs) == 1


def test_retry_after_pauses_the_whole_target(actor):
    odoo = ExternalSystemFactory(max_in_flight=10)
    enqueue(actor, n=2, target=odoo, operation="test.flaky", payload={"fail_times": 1, "retry_after": 60})
    dispatch.run_once(operation="test.flaky", target_id=odoo.pk)  # 1 job, batch_size 1: 429, Retry-After 60
    blocked = dispatch.claim(operation="test.flaky", target_id=odoo.pk, limit=1)
    assert blocked.limited == "retry_after" and 55 < blocked.wait_seconds <= 60
    gate_pause(odoo.pk, timezone.now())  # an earlier pause never shortens the current one
    assert dispatch.claim(operation="test.flaky", target_id=odoo.pk, limit=1).limited == "retry_after"


# --- relay and windows ------------------------------------------------------------------------
def test_relay_recovers_expired_leases_and_republishes_unkicked_rows(actor, settings):
    settings.SYNC_BACKOFF_BASE_SECONDS = 600  # the recovered job waits (at least a little) before its retry
    # given one job kicked just now, one whose wake-up was lost long ago, and one whose worker died
    fresh, lost, crashed = enqueue(actor, n=3)
    OutboxJob.objects.filter(pk=lost.pk).update(kicked_at=timezone.now() - timedelta(minutes=5))
    dispatch.claim(operation="test.record", target_id=None, limit=1)  # claims `fresh`(lowest id) ...
    OutboxJob.objects.filter(state=JobState.IN_FLIGHT).update(lease_until=timezone.now() - timedelta(seconds=1))
    with mock.patch("controlplane.sync.relay.kick", return_value=True) as kick:
        # when the relay runs
        result = relay.relay()
    # then the dead worker's job is back to retry with a lost attempt, and one wake-up is published
    assert result == {"recovered": 1, "published": 1}
    kick.assert_called_once_with("test.record", None)
    recovered = OutboxJob.objects.get(pk=fresh.pk)
    assert recovered.state == JobState.RETRY_WAIT
    assert recovered.sync_attempts.get().outcome == "lost"
    # a second pass right after publishes nothing more for rows just woken
    with mock.patch("controlplane.sync.relay.kick", return_value=True) as kick:
        relay.relay()
    assert kick.call_count == 0


def test_batch_operations_wait_for_their_window(actor, django_capture_on_commit_callbacks):
    # given odoo.post_expense-like operation in batch mode with a 5 minute window
    policy = sync_policy_set(actor=actor, operation="test.record", mode=SyncMode.BATCH, batch_size=50,
                             every_seconds=300)
    task = PeriodicTask.objects.get(pk=policy.schedule_id)
    assert (task.task, task.enabled, task.interval.every) == ("controlplane.sync.tasks.run_batch_window_task",
                                                             True, 300)
    with mock.patch("controlplane.sync.kick.kick") as kick_now, django_capture_on_commit_callbacks(execute=True):
        jobs = enqueue(actor, n=120)
    # then enqueue kicked nothing and the relay leaves the pending rows alone
    assert kick_now.call_count == 0
    with mock.patch("controlplane.sync.relay.kick", return_value=True) as kick:
        relay.relay(now=timezone.now() + timedelta(minutes=1))
    assert kick.call_count == 0
    # when the window opens, enough wake-ups for 120 rows in batches of 50 are published
    with mock.patch("controlplane.sync.relay.kick", return_value=True) as kick:
        assert relay.batch_window("test.record") == 3
    assert dispatch.run_once(operation="test.record", target_id=None).claimed == 50
    assert OutboxJob.objects.filter(pk__in=[j.pk for j in jobs], state=JobState.SUCCEEDED).count() == 50


def test_switching_a_policy_back_to_realtime_disables_its_window(actor):
    policy = sync_policy_set(actor=actor, operation="test.record", mode=SyncMode.BATCH, crontab="0 2 * * *")
    assert policy.schedule.crontab.hour == "2"
    policy = sync_policy_set(actor=actor, operation="test.record", mode=SyncMode.REALTIME)
    assert policy.schedule.enabled is False
    with pytest.raises(ValidationFailed):
        sync_policy_set(actor=actor, operation="test.record", mode=SyncMode.BATCH)


# --- replay ---------------------------------------------------------------------------------
def test_replay_sends_dead_jobs_back_with_who_and_why(actor, django_capture_on_commit_callbacks):
    # given a dead job with its open exception, and a succeeded one
    dead, ok = enqueue(actor, operation="test.permanent", n=2)
    dispatch.run_once(operation="test.permanent", target_id=None)
    OutboxJob.objects.filter(pk=ok.pk).update(state=JobState.SUCCEEDED)
    dead.refresh_from_db()
    assert dead.state == JobState.DEAD
    # when a person replays both
    with mock.patch("controlplane.sync.kick.kick") as kick, django_capture_on_commit_callbacks(execute=True):
        replayed = outbox_replay(actor=actor, job_ids=[dead.pk, ok.pk], reason="fixed the GL mapping")
    # then only the dead one is back to pending with attempts reset, the reason on the row and in history
    assert [j.pk for j in replayed] == [dead.pk]
    dead.refresh_from_db()
    assert (dead.state, dead.attempts, dead.replay_count) == (JobState.PENDING, 0, 1)
    assert (dead.last_replay_reason, dead.last_replayed_by) == ("fixed the GL mapping", actor.user)
    last = dead.history.latest("history_date")
    assert last.history_user == actor.user and "fixed the GL mapping" in last.history_change_reason
    assert ExceptionRecord.objects.get(dedupe_key=f"sync_dead:{dead.pk}").status == ExceptionStatus.RESOLVED
    kick.assert_called_once()
    with pytest.raises(ValidationFailed):
        outbox_replay(actor=actor, job_ids=[dead.pk], reason="")


def test_admin_replay_action_asks_for_a_reason_then_replays(admin_client, actor):
    [job] = enqueue(actor, operation="test.permanent")
    dispatch.run_once(operation="test.permanent", target_id=None)
    url = "/admin/sync/outboxjob/"
    page = admin_client.post(url, {"action": "replay_selected", "_selected_action": [job.pk]})
    assert page.status_code == 200 and b"reason" in page.content
    with mock.patch("controlplane.sync.kick.kick"):
        done = admin_client.post(url, {"action": "replay_selected", "_selected_action": [job.pk], "apply": "1",
                                       "reason": "vendor fixed their API", "reset_attempts": "on"})
    assert done.status_code == 302
    job.refresh_from_db()
    assert (job.state, job.last_replay_reason) == (JobState.PENDING, "vendor fixed their API")


def test_dispatch_messages_are_routed_to_their_operation_queue():
    assert route_task("controlplane.sync.tasks.dispatch_task", (), {"operation": "test.webhook"}, {}) == {
        "queue": "webhooks"}
    assert route_task("controlplane.sync.tasks.relay_task", (), {}, {}) == {"queue": "default"}
    assert route_task("controlplane.other.tasks.x_task", (), {}, {}) is None
