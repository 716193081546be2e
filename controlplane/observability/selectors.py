"""Read-only figures for the admin dashboard and the Prometheus collector.

Every function is one or a few aggregate queries (``GROUP BY`` in the database, never a loop
over rows), so the dashboard and a scrape stay cheap on a busy month-end. Each takes ``now``
so tests and callers agree on "the last hour" without sleeping.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Case, Count, Max, Min, Q, Value, When
from django.db.models.functions import TruncDate

from controlplane.approvals.models import ApprovalStep, StepStatus
from controlplane.exceptions.models import ExceptionKind, ExceptionRecord, ExceptionStatus
from controlplane.expenses.models import Expense, ExpensePosting
from controlplane.expenses.states import IN_APPROVAL, PaymentState, PostingState
from controlplane.sync.models import AttemptOutcome, JobState, OutboxJob, SyncAttempt

# (label, lower bound inclusive, upper bound exclusive) of a wait; None is open-ended.
AGE_BUCKETS: tuple[tuple[str, dt.timedelta | None, dt.timedelta | None], ...] = (
    ("<1d", None, dt.timedelta(days=1)),
    ("1-3d", dt.timedelta(days=1), dt.timedelta(days=3)),
    ("3-7d", dt.timedelta(days=3), dt.timedelta(days=7)),
    (">7d", dt.timedelta(days=7), None),
)
POSTING_OPERATION = "odoo.post_expense"


def reimbursement_delay_days() -> int:
    """Posted but unpaid for more than this many days counts as a delayed reimbursement
    (setting ``OBSERVABILITY_REIMBURSEMENT_DELAY_DAYS``, default 7)."""
    return int(getattr(settings, "OBSERVABILITY_REIMBURSEMENT_DELAY_DAYS", 7))


def age_bucket_expression(field: str, now: dt.datetime) -> Case:
    """A ``CASE`` naming the :data:`AGE_BUCKETS` label of ``now - field``."""
    whens = []
    for label, _low, high in AGE_BUCKETS:
        if high is not None:
            whens.append(When(**{f"{field}__gt": now - high}, then=Value(label)))
    return Case(*whens, default=Value(AGE_BUCKETS[-1][0]))


# --- business ---------------------------------------------------------------------------


def pending_approvals(*, now: dt.datetime) -> list[dict]:
    """Pending approval steps (the active step of expenses still in approval), grouped by
    legal entity, step kind and age bucket (since the step became active):
    ``[{"legal_entity": "US01", "kind": "manager", "age": "1-3d", "count": 4, "overdue": 1}]``."""
    rows = (
        ApprovalStep.objects.filter(status=StepStatus.PENDING, expense__approval_state__in=IN_APPROVAL)
        .annotate(age=age_bucket_expression("activated_at", now))
        .values("expense__legal_entity__code", "kind", "age")
        .annotate(count=Count("id"), overdue=Count("id", filter=Q(due_at__lt=now)))
        .order_by("expense__legal_entity__code", "kind", "age")
    )
    return [
        {"legal_entity": r["expense__legal_entity__code"], "kind": r["kind"], "age": r["age"],
         "count": r["count"], "overdue": r["overdue"]}
        for r in rows
    ]


def failed_postings() -> list[dict]:
    """Ledger postings that need a person (dead) or are failing (waiting to retry), per target
    system: ``[{"system": "odoo", "dead": 2, "retrying": 1}]``."""
    rows = (
        OutboxJob.objects.filter(operation=POSTING_OPERATION, state__in=(JobState.DEAD, JobState.RETRY_WAIT))
        .values("target__code")
        .annotate(dead=Count("id", filter=Q(state=JobState.DEAD)),
                  retrying=Count("id", filter=Q(state=JobState.RETRY_WAIT)))
        .order_by("target__code")
    )
    return [{"system": r["target__code"] or "", "dead": r["dead"], "retrying": r["retrying"]} for r in rows]


def reimbursement_delays(*, now: dt.datetime, days: int | None = None) -> list[dict]:
    """Expenses posted to the ledger but still unpaid after ``days`` days, per legal entity,
    with the oldest posting date: ``[{"legal_entity": "FR01", "count": 3, "oldest_posted_at": ...}]``."""
    limit = now - dt.timedelta(days=reimbursement_delay_days() if days is None else days)
    rows = (
        Expense.objects.filter(posting_state=PostingState.POSTED, payment_state=PaymentState.UNPAID,
                               posted_at__lt=limit)
        .values("legal_entity__code")
        .annotate(count=Count("id"), oldest_posted_at=Min("posted_at"))
        .order_by("legal_entity__code")
    )
    return [{"legal_entity": r["legal_entity__code"], "count": r["count"],
             "oldest_posted_at": r["oldest_posted_at"]} for r in rows]


def open_exceptions() -> list[dict]:
    """Active exceptions (open or in progress) per legal entity, department, kind and severity."""
    rows = (
        ExceptionRecord.objects.filter(status__in=ExceptionStatus.active())
        .values("legal_entity__code", "department__code", "kind", "severity")
        .annotate(count=Count("id"))
        .order_by("legal_entity__code", "department__code", "kind", "severity")
    )
    result = [{"legal_entity": r["legal_entity__code"] or "", "department": r["department__code"] or "",
               "kind": r["kind"], "severity": r["severity"], "count": r["count"]} for r in rows]
    # Sorted here: databases disagree on where NULLs sort.
    return sorted(result, key=lambda r: (r["legal_entity"], r["department"], r["kind"], r["severity"]))


def daily_trend(*, now: dt.datetime, days: int = 30) -> dict:
    """Per day over the last ``days`` days (oldest first): exceptions opened, exceptions closed,
    ledger postings recorded, posting failures opened. Three grouped queries."""
    start_day = (now - dt.timedelta(days=days - 1)).date()
    start = dt.datetime.combine(start_day, dt.time.min, tzinfo=now.tzinfo or dt.UTC)
    day_list = [start_day + dt.timedelta(days=i) for i in range(days)]

    def per_day(qs, field: str, **extra) -> dict:
        grouped = (qs.filter(**{f"{field}__gte": start})
                   .annotate(day=TruncDate(field)).values("day").annotate(n=Count("id"), **extra).order_by("day"))
        return {r["day"]: r for r in grouped}

    exceptions = per_day(ExceptionRecord.objects.all(), "created_at",
                         postings_failed=Count("id", filter=Q(kind=ExceptionKind.POSTING_FAILED)))
    closed = per_day(ExceptionRecord.objects.filter(closed_at__isnull=False), "closed_at")
    postings = per_day(ExpensePosting.objects.all(), "created_at")
    return {
        "days": day_list,
        "series": {
            "exceptions_opened": [exceptions.get(d, {}).get("n", 0) for d in day_list],
            "exceptions_closed": [closed.get(d, {}).get("n", 0) for d in day_list],
            "postings": [postings.get(d, {}).get("n", 0) for d in day_list],
            "posting_failures": [exceptions.get(d, {}).get("postings_failed", 0) for d in day_list],
        },
    }


# --- technical --------------------------------------------------------------------------


def outbox_by_queue(*, now: dt.datetime) -> list[dict]:
    """Outbox rows not finished, per queue and state, with how many are due (claimable now)
    and the oldest due time: ``[{"queue": "odoo", "state": "pending", "count": 5, "due": 3,
    "oldest_due": datetime | None}]``. Finished rows (succeeded, cancelled) are not counted:
    they only grow; dead rows are, they need a person."""
    due = Q(state__in=JobState.due(), next_attempt_at__lte=now)
    rows = (
        OutboxJob.objects.exclude(state__in=(JobState.SUCCEEDED, JobState.CANCELLED))
        .values("queue", "state")
        .annotate(count=Count("id"), due=Count("id", filter=due),
                  oldest_due=Min("next_attempt_at", filter=due))
        .order_by("queue", "state")
    )
    return [dict(r) for r in rows]


def queue_depths(*, now: dt.datetime) -> dict[str, int]:
    """Due outbox rows per queue (every known queue present, zero when empty)."""
    depths = {q: 0 for q in getattr(settings, "CELERY_TASK_QUEUES_NAMES", ("default",))}
    for row in outbox_by_queue(now=now):
        depths[row["queue"]] = depths.get(row["queue"], 0) + row["due"]
    return depths


@dataclass(frozen=True)
class AttemptStats:
    """Sync attempts that ended in a window."""

    total: int
    succeeded: int
    retries: int
    failed: int  # every outcome other than succeeded and cancelled

    @property
    def error_rate(self) -> float | None:
        return None if self.total == 0 else self.failed / self.total


def attempt_stats(*, now: dt.datetime, window: dt.timedelta = dt.timedelta(hours=1)) -> AttemptStats:
    """Attempts started in the last ``window``: totals, retries and the failed share."""
    row = SyncAttempt.objects.filter(started_at__gte=now - window).aggregate(
        total=Count("id"),
        succeeded=Count("id", filter=Q(outcome=AttemptOutcome.SUCCEEDED)),
        retries=Count("id", filter=Q(outcome=AttemptOutcome.RETRY)),
        failed=Count("id", filter=~Q(outcome__in=(AttemptOutcome.SUCCEEDED, AttemptOutcome.CANCELLED))),
    )
    return AttemptStats(**row)


def attempts_by_outcome(*, now: dt.datetime, window: dt.timedelta = dt.timedelta(hours=1)) -> dict[str, int]:
    """Attempts started in the last ``window`` per outcome (every outcome present)."""
    counts = dict.fromkeys(AttemptOutcome.values, 0)
    rows = (SyncAttempt.objects.filter(started_at__gte=now - window)
            .values("outcome").annotate(n=Count("id")).order_by("outcome"))
    counts.update({r["outcome"]: r["n"] for r in rows})
    return counts


def attempt_latency(*, now: dt.datetime, operation_prefix: str = "odoo.",
                    window: dt.timedelta = dt.timedelta(hours=24),
                    quantiles: tuple[float, ...] = (0.5, 0.95)) -> dict[float, int | None]:
    """Nearest-rank percentiles of attempt durations (ms) for operations starting with
    ``operation_prefix`` over ``window``: ``{0.5: 120, 0.95: 900}`` (None without data).

    One count plus one indexed ``ORDER BY … OFFSET k LIMIT 1`` per quantile, portable to
    SQLite and PostgreSQL, instead of loading every duration."""
    qs = SyncAttempt.objects.filter(started_at__gte=now - window, job__operation__startswith=operation_prefix)
    n = qs.count()
    result: dict[float, int | None] = {}
    for q in quantiles:
        if n == 0:
            result[q] = None
            continue
        rank = max(1, -(-int(q * n * 1000) // 1000))  # ceil(q*n) without float drift
        result[q] = qs.order_by("duration_ms").values_list("duration_ms", flat=True)[min(rank, n) - 1]
    return result


def last_successful_sync() -> list[dict]:
    """Per external system, when its last outbound job succeeded: ``[{"system": "odoo",
    "finished_at": datetime}]`` (systems that never succeeded are absent)."""
    rows = (
        OutboxJob.objects.filter(state=JobState.SUCCEEDED, target__isnull=False)
        .values("target__code")
        .annotate(finished_at=Max("finished_at"))
        .order_by("target__code")
    )
    return [{"system": r["target__code"], "finished_at": r["finished_at"]} for r in rows]


def pivot(rows: list[dict], row_key: str, col_key: str, value: str = "count") -> dict:
    """``{"rows": [...], "cols": [...], "cells": {row: {col: sum}}, "totals": {row: sum}}``:
    grouped rows as a small table for templates."""
    cells: dict = defaultdict(lambda: defaultdict(int))
    cols: list = []
    for r in rows:
        cells[r[row_key]][r[col_key]] += r[value]
        if r[col_key] not in cols:
            cols.append(r[col_key])
    ordered_rows = sorted(cells)
    return {
        "rows": ordered_rows,
        "cols": cols,
        "table": [(rk, [cells[rk].get(c, 0) for c in cols], sum(cells[rk].values())) for rk in ordered_rows],
    }
