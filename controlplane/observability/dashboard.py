"""The admin home dashboard: the selectors' figures shaped for ``templates/admin/index.html``.

Rendered through the ``{% dashboard %}`` template tag, so the stock admin site needs no
subclass. About a dozen aggregate queries in all, whatever the data volume.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from controlplane.observability import broker, selectors
from controlplane.observability.charts import line_chart
from controlplane.sync.models import JobState

VIEW_PERMISSION = "exceptions.view_exceptionrecord"

TREND_LABELS = {
    "exceptions_opened": "Exceptions opened",
    "exceptions_closed": "Exceptions closed",
    "postings": "Postings recorded",
    "posting_failures": "Posting failures",
}


def can_see_dashboard(user) -> bool:
    """Staff who may read the exception queue see the operations dashboard."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(VIEW_PERMISSION))


def dashboard_context(*, now: dt.datetime | None = None) -> dict:
    """Everything the dashboard shows, computed now."""
    now = now or timezone.now()
    approvals = selectors.pending_approvals(now=now)
    exceptions = selectors.open_exceptions()
    delays = selectors.reimbursement_delays(now=now)
    trend = selectors.daily_trend(now=now)
    attempts = selectors.attempt_stats(now=now)
    latency = selectors.attempt_latency(now=now)
    outbox = selectors.outbox_by_queue(now=now)
    depths: dict[str, int] = {}
    dead: dict[str, int] = {}
    retry_waiting = 0
    for row in outbox:
        depths[row["queue"]] = depths.get(row["queue"], 0) + row["due"]
        if row["state"] == JobState.DEAD:
            dead[row["queue"]] = row["count"]
        if row["state"] == JobState.RETRY_WAIT:
            retry_waiting += row["count"]
    for queue in broker.queue_names():
        depths.setdefault(queue, 0)
    broker_lengths = broker.queue_lengths()
    return {
        "now": now,
        "approvals": {
            "total": sum(r["count"] for r in approvals),
            "overdue": sum(r["overdue"] for r in approvals),
            "by_age": selectors.pivot(approvals, "kind", "age"),
            "age_columns": [label for label, _l, _h in selectors.AGE_BUCKETS],
        },
        "failed_postings": selectors.failed_postings(),
        "reimbursement_delays": delays,
        "reimbursement_delay_days": selectors.reimbursement_delay_days(),
        "exceptions": {
            "total": sum(r["count"] for r in exceptions),
            "by_entity": selectors.pivot(
                [{**r, "legal_entity": r["legal_entity"] or "—", "department": r["department"] or "—"}
                 for r in exceptions], "legal_entity", "department"),
        },
        "trend": line_chart(trend["days"], {TREND_LABELS[k]: v for k, v in trend["series"].items()}),
        "queues": [
            {"queue": q, "due": depths[q], "dead": dead.get(q, 0), "broker": broker_lengths.get(q)}
            for q in sorted(depths)
        ],
        "broker_kind": broker.kind(),
        "attempts": attempts,
        "error_rate_pct": None if attempts.error_rate is None else round(100 * attempts.error_rate, 1),
        "retry_waiting": retry_waiting,
        "odoo_latency": {"p50": latency[0.5], "p95": latency[0.95]},
        "last_sync": selectors.last_successful_sync(),
    }
