"""``/metrics``: Prometheus text that prometheus-client's own parser reads, with the business
gauges computed at scrape time and the request histograms of the middleware."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controlplane.exceptions.models import ExceptionKind, Severity
from controlplane.sync.models import JobState
from tests import factories as f
from tests.observability import factories as of

pytestmark = pytest.mark.django_db

MIDDLEWARE = "controlplane.observability.middleware.RequestMetricsMiddleware"


def scrape(client) -> dict[str, list]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.content.decode())
    samples: dict[str, list] = {}
    for family in families:
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples, name, **labels) -> float:
    matching = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matching) == 1, (name, labels, samples.get(name))
    return matching[0]


def test_metrics_parse_and_expose_business_gauges(client):
    # given two open posting failures in US01 and a dead posting job
    entity = f.LegalEntityFactory(code="US01")
    for _ in range(2):
        of.open_exception(legal_entity=entity, kind=ExceptionKind.POSTING_FAILED, severity=Severity.HIGH)
    odoo = f.ExternalSystemFactory(code="odoo", kind="odoo")
    of.job(operation="odoo.post_expense", target=odoo, queue="odoo", state=JobState.DEAD)
    of.job(queue="odoo")
    # when Prometheus scrapes
    samples = scrape(client)
    # then the parser reads every family, default process metrics included
    assert "process_cpu_seconds_total" in samples or "python_info" in samples
    assert value(samples, "controlplane_collector_up") == 1
    assert value(samples, "controlplane_exceptions_open", legal_entity="US01", kind="posting_failed",
                 severity="high", department="") == 2
    assert value(samples, "controlplane_postings_failed", system="odoo", state="dead") == 1
    assert value(samples, "controlplane_outbox_due", queue="odoo") == 1
    assert value(samples, "controlplane_outbox_due", queue="files") == 0
    assert value(samples, "controlplane_outbox_jobs", queue="odoo", state="dead") == 1
    assert value(samples, "controlplane_sync_attempts_last_hour", outcome="retry") == 0


def test_request_histogram_counts_requests_by_route(client, settings):
    # given the middleware installed (it is, in the base settings)
    assert MIDDLEWARE in settings.MIDDLEWARE
    before = scrape(client)
    route = "health/"

    def count(samples):
        return sum(s.value for s in samples.get("controlplane_http_request_duration_seconds_count", [])
                   if s.labels == {"method": "GET", "route": route, "status": "200"})

    # when two liveness probes arrive
    client.get("/health/")
    client.get("/health/")
    # then the histogram counts them under the route pattern
    assert count(scrape(client)) == count(before) + 2


def test_unknown_paths_share_one_route_label(client, settings):
    settings.MIDDLEWARE = [MIDDLEWARE, *settings.MIDDLEWARE]
    client.get("/no-such-page/12345/")
    samples = scrape(client)
    routes = {s.labels["route"] for s in samples["controlplane_http_request_duration_seconds_count"]}
    assert "<unmatched>" in routes
    assert not any("12345" in r for r in routes)


def test_metrics_token_when_configured(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert ok.status_code == 200


def test_multiprocess_mode_merges_worker_files_and_keeps_the_database_gauges(client, tmp_path, monkeypatch):
    # given the multi-process folder set (as gunicorn with several workers would have it)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    of.open_exception(kind=ExceptionKind.VALIDATION, severity=Severity.LOW)
    # when scraped
    samples = scrape(client)
    # then the per-process collectors are left out and the database gauges are there
    assert "process_cpu_seconds_total" not in samples
    assert value(samples, "controlplane_exceptions_open", legal_entity="", department="", kind="validation",
                 severity="low") == 1
