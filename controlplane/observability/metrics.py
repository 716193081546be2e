"""Prometheus metrics: HTTP request histograms (fed by the middleware) and the business and
queue gauges, computed from the database at scrape time by :class:`ControlPlaneCollector`.

Multi-process servers (gunicorn with several workers) each hold their own in-memory
registry, so a scrape would see one worker only. When ``PROMETHEUS_MULTIPROC_DIR`` is set
(before the processes start), prometheus-client writes every worker's counters and
histograms to files in that folder and :func:`exposition` merges them with
``MultiProcessCollector``; the default process/platform collectors are then left out (they
would describe only the scraped worker). The database gauges need no merging: whichever
worker answers the scrape computes them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from controlplane.observability import broker, selectors

logger = logging.getLogger(__name__)

HTTP_REQUEST_SECONDS = Histogram(
    "controlplane_http_request_duration_seconds",
    "Latency of HTTP requests, by method, URL route and status code.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_REQUEST_EXCEPTIONS = Counter(
    "controlplane_http_request_exceptions",
    "Requests whose view raised an unhandled exception, by method, route and exception class.",
    ["method", "route", "exception"],
)


def _ts(value: dt.datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class ControlPlaneCollector(Collector):
    """Business and outbox gauges read from the database at each scrape (a dozen grouped
    queries). A database failure yields ``controlplane_collector_up 0`` instead of failing
    the whole scrape, so process metrics still arrive and the alert names the cause."""

    def describe(self):
        # Metrics depend on the database; describing nothing keeps registration free of queries.
        return []

    def collect(self):
        started = time.perf_counter()
        up = GaugeMetricFamily("controlplane_collector_up", "1 when the database gauges could be computed.")
        try:
            families = list(self._families(timezone.now()))
        except DatabaseError:
            logger.exception("metrics collector: database query failed")
            families = []
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
        yield from families
        yield up
        duration = GaugeMetricFamily("controlplane_collector_duration_seconds",
                                     "Time spent computing the database gauges of this scrape.")
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _families(self, now: dt.datetime):
        pending = GaugeMetricFamily("controlplane_approvals_pending",
                                    "Approval steps waiting for a decision, by entity, step kind and wait.",
                                    labels=["legal_entity", "step_kind", "age"])
        overdue = GaugeMetricFamily("controlplane_approvals_overdue",
                                    "Pending approval steps past their service level.",
                                    labels=["legal_entity", "step_kind"])
        overdue_sums: dict[tuple[str, str], int] = {}
        for r in selectors.pending_approvals(now=now):
            pending.add_metric([r["legal_entity"], r["kind"], r["age"]], r["count"])
            key = (r["legal_entity"], r["kind"])
            overdue_sums[key] = overdue_sums.get(key, 0) + r["overdue"]
        for key, value in overdue_sums.items():
            overdue.add_metric(list(key), value)
        yield pending
        yield overdue

        failed = GaugeMetricFamily("controlplane_postings_failed",
                                   "Ledger postings dead (need a person) or waiting to retry, by target system.",
                                   labels=["system", "state"])
        for r in selectors.failed_postings():
            failed.add_metric([r["system"], "dead"], r["dead"])
            failed.add_metric([r["system"], "retry_wait"], r["retrying"])
        yield failed

        exceptions = GaugeMetricFamily("controlplane_exceptions_open",
                                       "Open or in-progress exceptions by entity, department, kind and severity.",
                                       labels=["legal_entity", "department", "kind", "severity"])
        for r in selectors.open_exceptions():
            exceptions.add_metric([r["legal_entity"], r["department"], r["kind"], r["severity"]], r["count"])
        yield exceptions

        delayed = GaugeMetricFamily("controlplane_reimbursements_delayed",
                                    "Expenses posted but unpaid for longer than the allowed delay.",
                                    labels=["legal_entity"])
        delay_max = GaugeMetricFamily("controlplane_reimbursement_delay_max_seconds",
                                      "Age of the oldest posted but unpaid expense past the allowed delay.",
                                      labels=["legal_entity"])
        for r in selectors.reimbursement_delays(now=now):
            delayed.add_metric([r["legal_entity"]], r["count"])
            delay_max.add_metric([r["legal_entity"]], (now - r["oldest_posted_at"]).total_seconds())
        yield delayed
        yield delay_max

        jobs = GaugeMetricFamily("controlplane_outbox_jobs", "Unfinished outbox rows by queue and state.",
                                 labels=["queue", "state"])
        due = GaugeMetricFamily("controlplane_outbox_due", "Outbox rows a worker may claim now (queue depth).",
                                labels=["queue"])
        oldest = GaugeMetricFamily("controlplane_outbox_oldest_due_age_seconds",
                                   "How long the oldest claimable row of each queue has been due.", labels=["queue"])
        due_sums = {q: 0 for q in broker.queue_names()}
        oldest_due: dict[str, dt.datetime] = {}
        for r in selectors.outbox_by_queue(now=now):
            jobs.add_metric([r["queue"], r["state"]], r["count"])
            due_sums[r["queue"]] = due_sums.get(r["queue"], 0) + r["due"]
            if r["oldest_due"] is not None and (r["queue"] not in oldest_due or r["oldest_due"] < oldest_due[r["queue"]]):
                oldest_due[r["queue"]] = r["oldest_due"]
        for queue, value in due_sums.items():
            due.add_metric([queue], value)
            oldest.add_metric([queue], (now - oldest_due[queue]).total_seconds() if queue in oldest_due else 0)
        yield jobs
        yield due
        yield oldest

        attempts = GaugeMetricFamily("controlplane_sync_attempts_last_hour",
                                     "Sync attempts started in the last hour, by outcome (retry = retries).",
                                     labels=["outcome"])
        for outcome, n in selectors.attempts_by_outcome(now=now).items():
            attempts.add_metric([outcome], n)
        yield attempts

        last = GaugeMetricFamily("controlplane_sync_last_success_timestamp_seconds",
                                 "Unix time of the last outbound job that succeeded, per external system.",
                                 labels=["system"])
        for r in selectors.last_successful_sync():
            if r["finished_at"] is not None:
                last.add_metric([r["system"]], _ts(r["finished_at"]))
        yield last

        lengths = broker.queue_lengths()
        if lengths:
            broker_len = GaugeMetricFamily("controlplane_broker_queue_length",
                                           "Messages waiting in each Redis broker queue.", labels=["queue"])
            for queue, n in lengths.items():
                if n is not None:
                    broker_len.add_metric([queue], n)
            yield broker_len


_database_registry = CollectorRegistry(auto_describe=False)
_database_registry.register(ControlPlaneCollector())


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "") or os.environ.get("prometheus_multiproc_dir", "")


def exposition() -> bytes:
    """The text exposition of every metric: this process's (or, in multi-process mode, every
    worker's merged) plus the database gauges computed now."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process_part = generate_latest(registry)
    else:
        process_part = generate_latest(REGISTRY)
    return process_part + generate_latest(_database_registry)
