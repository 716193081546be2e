"""Deferrals (waiting on something that ends by itself) and the lease every claim takes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

import controlplane.sync.testing  # noqa: F401 — registers the test.* handlers
from controlplane.odoo.posting import ledger_lease
from controlplane.sync import dispatch
from controlplane.sync.models import AttemptOutcome, JobState, OutboxJob, SyncAttempt, TargetGate
from controlplane.sync.services import outbox_enqueue
from tests.factories import EmployeeFactory, ExpenseCategoryFactory, ExternalSystemFactory, LegalEntityFactory
from tests.odoo.factories import posting_job, ready_expense

pytestmark = pytest.mark.django_db


def test_a_deferral_gives_the_try_back_and_never_pauses_the_target(actor):
    # given a job allowed one single try, whose handler must wait three times for another worker
    odoo = ExternalSystemFactory(max_in_flight=4, rate_limit_per_second=None)
    job = outbox_enqueue(actor=actor, target=odoo, operation="test.deferring", subject=None,
                         payload={"defer_times": 3, "seconds": 0}, idempotency_key="defer-1")
    # when it is run four times
    for _ in range(3):
        result = dispatch.run_once(operation="test.deferring", target_id=odoo.pk, worker_id="w")
        assert result.counts == {AttemptOutcome.DEFERRED: 1}
        job.refresh_from_db()
        # then each wait is recorded, costs no try, pauses nothing, and the job is due again
        assert (job.state, job.attempts, job.last_error_class) == (JobState.RETRY_WAIT, 0, "Deferred")
        assert not TargetGate.objects.filter(system=odoo, blocked_until__isnull=False).exists()
    result = dispatch.run_once(operation="test.deferring", target_id=odoo.pk, worker_id="w")
    job.refresh_from_db()
    # and the real try, its only one, succeeds instead of finding the job out of tries
    assert result.counts == {AttemptOutcome.SUCCEEDED: 1}
    assert (job.state, job.attempts, job.response_summary) == (JobState.SUCCEEDED, 1, {"attempts": 1, "deferred": 3})
    outcomes = list(SyncAttempt.objects.filter(job=job).order_by("id").values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.DEFERRED] * 3 + [AttemptOutcome.SUCCEEDED]


def test_a_deferral_waits_as_long_as_the_handler_said(actor):
    job = outbox_enqueue(actor=actor, target=None, operation="test.deferring", subject=None,
                         payload={"defer_times": 1, "seconds": 30}, idempotency_key="defer-2")
    before = job.next_attempt_at
    dispatch.run_once(operation="test.deferring", target_id=None, worker_id="w")
    job.refresh_from_db()
    assert job.state == JobState.RETRY_WAIT
    assert job.next_attempt_at - before >= dt.timedelta(seconds=29)
    # not due yet: nothing to claim
    assert dispatch.run_once(operation="test.deferring", target_id=None, worker_id="w").claimed == 0
    assert OutboxJob.objects.get(pk=job.pk).attempts == 0


def test_a_posting_waiting_for_another_workers_ledger_claim_is_deferred_not_failed():
    from controlplane.odoo.handlers import POST, post_expense_handler
    from controlplane.odoo.models import LedgerState, PostingLedger

    # given a queued expense whose ledger row another worker claimed 10 seconds ago
    entity = LegalEntityFactory()
    odoo = ExternalSystemFactory(code="odoo", kind="odoo")
    expense = ready_expense(entity=entity, employee=EmployeeFactory(legal_entity=entity),
                            category=ExpenseCategoryFactory(), receipt=False)
    job = posting_job(expense, odoo)
    lease_until = timezone.now() + ledger_lease() - dt.timedelta(seconds=10)
    PostingLedger.objects.create(system=odoo, reference=expense.posting_reference, expense=expense, revision=1,
                                 mode=entity.posting_mode, state=LedgerState.IN_FLIGHT, claim_token="theirs",
                                 lease_until=lease_until)
    # when the posting job runs
    [claimed] = dispatch.claim(operation=POST, target_id=odoo.pk, limit=1).jobs
    outcome = post_expense_handler([claimed])[claimed.pk]
    # then it waits for the end of their lease, as a deferral
    assert outcome.kind == "defer"
    assert abs(outcome.retry_after - (lease_until - timezone.now()).total_seconds()) < 5
    # and the ledger row is still theirs
    assert PostingLedger.objects.get(reference=expense.posting_reference).claim_token == "theirs"
    assert job.pk == claimed.pk


@override_settings(CELERY_TASK_TIME_LIMIT=300, SYNC_LEASE_SECONDS=360)
def test_claims_are_leased_for_the_configured_lease():
    assert dispatch.lease_seconds() == 360
    # the Odoo posting ledger's claims are leased like the jobs that take them
    assert ledger_lease() == dt.timedelta(seconds=360)


@override_settings(CELERY_TASK_TIME_LIMIT=300, SYNC_LEASE_SECONDS=30)
def test_a_lease_never_ends_before_the_hard_time_limit():
    # a lease configured below the hard limit would let a live task lose its claims
    assert dispatch.lease_seconds() == 300 + dispatch.MIN_LEASE_MARGIN_SECONDS
    assert ledger_lease() == dt.timedelta(seconds=300 + dispatch.MIN_LEASE_MARGIN_SECONDS)
