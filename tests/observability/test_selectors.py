"""Dashboard and metrics figures, given rows in known states."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from controlplane.approvals.models import StepKind
from controlplane.exceptions.models import ExceptionKind, Severity
from controlplane.exceptions.services import exception_resolve
from controlplane.expenses.states import ApprovalState, PaymentState, PostingState
from controlplane.observability import selectors
from controlplane.sync.models import AttemptOutcome, JobState
from tests import factories as f
from tests.observability import factories as of

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def test_pending_approvals_are_grouped_by_entity_step_and_wait():
    # given steps waiting 2 hours, 2 days (overdue) and 10 days, and one expense no longer in approval
    entity = f.LegalEntityFactory(code="US01")
    of.pending_step(of.expense(entity=entity), activated_at=NOW - dt.timedelta(hours=2))
    of.pending_step(of.expense(entity=entity), activated_at=days_ago(2), due_at=days_ago(1))
    of.pending_step(of.expense(entity=entity), kind=StepKind.DEPARTMENT_HEAD, activated_at=days_ago(10))
    of.pending_step(of.expense(entity=entity, approval=ApprovalState.WITHDRAWN), activated_at=days_ago(2))
    # when
    rows = selectors.pending_approvals(now=NOW)
    # then
    assert rows == [
        {"legal_entity": "US01", "kind": "department_head", "age": ">7d", "count": 1, "overdue": 0},
        {"legal_entity": "US01", "kind": "manager", "age": "1-3d", "count": 1, "overdue": 1},
        {"legal_entity": "US01", "kind": "manager", "age": "<1d", "count": 1, "overdue": 0},
    ]


def test_reimbursement_delay_counts_posted_unpaid_expenses_older_than_the_limit():
    entity = f.LegalEntityFactory(code="FR01")
    of.expense(entity=entity, posting=PostingState.POSTED, posted_at=days_ago(10))
    of.expense(entity=entity, posting=PostingState.POSTED, posted_at=days_ago(20))
    of.expense(entity=entity, posting=PostingState.POSTED, posted_at=days_ago(2))  # not late yet
    of.expense(entity=entity, posting=PostingState.POSTED, payment=PaymentState.PAID, posted_at=days_ago(30))
    rows = selectors.reimbursement_delays(now=NOW, days=7)
    assert [(r["legal_entity"], r["count"]) for r in rows] == [("FR01", 2)]
    assert rows[0]["oldest_posted_at"] == days_ago(20)


def test_open_exceptions_by_entity_department_kind_and_severity():
    entity = f.LegalEntityFactory(code="US01")
    dept = f.DepartmentFactory(legal_entity=entity, code="ENG")
    of.open_exception(legal_entity=entity, department=dept, kind=ExceptionKind.POSTING_FAILED, severity=Severity.HIGH)
    of.open_exception(legal_entity=entity, department=dept, kind=ExceptionKind.POSTING_FAILED, severity=Severity.HIGH)
    closed = of.open_exception(legal_entity=entity, kind=ExceptionKind.VALIDATION)
    exception_resolve(actor=of.SYSTEM_ACTOR, exception_id=closed.pk, note="fixed")
    of.open_exception(kind=ExceptionKind.VALIDATION, severity=Severity.LOW)
    assert selectors.open_exceptions() == [
        {"legal_entity": "", "department": "", "kind": "validation", "severity": "low", "count": 1},
        {"legal_entity": "US01", "department": "ENG", "kind": "posting_failed", "severity": "high", "count": 2},
    ]


def test_outbox_depth_counts_only_due_rows_per_queue():
    of.job(queue="odoo")  # due
    of.job(queue="odoo", state=JobState.RETRY_WAIT)  # due
    of.job(queue="odoo", next_attempt_at=NOW + dt.timedelta(hours=1))  # not yet
    of.job(queue="odoo", state=JobState.DEAD)
    of.job(queue="odoo", state=JobState.SUCCEEDED)  # finished: not counted at all
    of.job(queue="webhooks", state=JobState.IN_FLIGHT)
    now = timezone.now()
    depths = selectors.queue_depths(now=now)
    assert depths["odoo"] == 2
    assert depths["webhooks"] == 0 and depths["files"] == 0
    states = {(r["queue"], r["state"]): r["count"] for r in selectors.outbox_by_queue(now=now)}
    assert states == {("odoo", "pending"): 2, ("odoo", "retry_wait"): 1, ("odoo", "dead"): 1,
                      ("webhooks", "in_flight"): 1}


def test_failed_postings_per_target():
    odoo = f.ExternalSystemFactory(code="odoo", kind="odoo")
    of.job(operation=selectors.POSTING_OPERATION, target=odoo, state=JobState.DEAD)
    of.job(operation=selectors.POSTING_OPERATION, target=odoo, state=JobState.RETRY_WAIT)
    of.job(operation="webhook.deliver", target=odoo, state=JobState.DEAD)  # not a posting
    assert selectors.failed_postings() == [{"system": "odoo", "dead": 1, "retrying": 1}]


def test_attempt_error_rate_and_latency_percentiles_over_the_window():
    odoo_job = of.job(operation="odoo.post_expense")
    other_job = of.job(operation="webhook.deliver")
    for ms in (10, 20, 30, 40, 50, 60, 70, 80, 90, 1000):
        of.attempt(odoo_job, duration_ms=ms)
    of.attempt(odoo_job, outcome=AttemptOutcome.RETRY, duration_ms=5000, started_at=NOW - dt.timedelta(hours=30))
    of.attempt(other_job, outcome=AttemptOutcome.RETRY, duration_ms=9999)
    of.attempt(other_job, outcome=AttemptOutcome.PERMANENT, duration_ms=9999)

    stats = selectors.attempt_stats(now=NOW)
    assert (stats.total, stats.succeeded, stats.retries, stats.failed) == (12, 10, 1, 2)
    assert stats.error_rate == pytest.approx(2 / 12)
    # nearest rank over the ten odoo attempts of the last 24 h: p50 = 5th, p95 = 10th
    assert selectors.attempt_latency(now=NOW) == {0.5: 50, 0.95: 1000}
    assert selectors.attempt_latency(now=NOW, operation_prefix="files.") == {0.5: None, 0.95: None}


def test_last_successful_sync_per_system():
    odoo = f.ExternalSystemFactory(code="odoo", kind="odoo")
    hr = f.ExternalSystemFactory(code="hr", kind="hr")
    of.job(target=odoo, state=JobState.SUCCEEDED, finished_at=days_ago(2))
    of.job(target=odoo, state=JobState.SUCCEEDED, finished_at=days_ago(1))
    of.job(target=hr, state=JobState.DEAD, finished_at=days_ago(1))
    assert selectors.last_successful_sync() == [{"system": "odoo", "finished_at": days_ago(1)}]


def test_daily_trend_has_one_point_per_day_with_todays_counts():
    record = of.open_exception(kind=ExceptionKind.POSTING_FAILED)
    exception_resolve(actor=of.SYSTEM_ACTOR, exception_id=record.pk, note="re-posted")
    of.open_exception(kind=ExceptionKind.VALIDATION)
    trend = selectors.daily_trend(now=timezone.now(), days=30)
    assert len(trend["days"]) == 30 and trend["days"][-1] == timezone.now().date()
    series = trend["series"]
    assert [len(v) for v in series.values()] == [30] * 4
    assert series["exceptions_opened"][-1] == 2
    assert series["exceptions_closed"][-1] == 1
    assert series["posting_failures"][-1] == 1
    assert sum(series["exceptions_opened"][:-1]) == 0
