"""API benchmark: full-path single-expense create vs a bare-insert baseline, p95 at a fixed
rate, and bulk-ingest lines per second. Not run by the tests.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/apiv1_bench .venv/bin/python bench/api/run.py

Requests go through Django's whole WSGI stack in-process (django.test.Client: middleware,
DRF, auth, idempotency, services, history, outbox) — no socket, so the numbers are the
server's cost, not the network's. The baseline is ``bench/api/urls.py::bare_insert``: one
``INSERT`` of an Expense row behind the same middleware. The database named by DATABASE_URL
is migrated (and created if missing on PostgreSQL); use a scratch database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.base")
os.environ.setdefault("API_THROTTLE_RATE", "100000/s")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def _ensure_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup():
    _ensure_database(os.environ.get("DATABASE_URL", ""))
    import django
    from django.conf import settings

    django.setup()
    settings.ROOT_URLCONF = "bench.api.urls"
    settings.ALLOWED_HOSTS = ["*"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from controlplane.demo.seed import seed_organisation

    seed_organisation()


def _token() -> str:
    from controlplane.api.models import Scope
    from controlplane.api.tokens import api_token_issue
    from controlplane.connections.models import ExternalSystem
    from controlplane.core.actors import Actor

    system = ExternalSystem.objects.get(code="expenses-app")
    return api_token_issue(actor=Actor(reason="bench"), system=system, scopes=list(Scope.values),
                           legal_entities=system.legal_entities.all())[1]


def _body(source_id: str, lines: int = 1) -> dict:
    today = dt.date.today().isoformat()
    return {"source_id": source_id, "legal_entity": "US01", "employee": "US-EMP1", "currency": "USD",
            "purpose": "bench", "lines": [{"date": today, "category": "TRAVEL", "amount": "115.00"}] * lines}


class Caller:
    def __init__(self, token: str):
        from django.test import Client

        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def create(self) -> int:
        key = uuid.uuid4().hex
        response = self.client.post("/api/v1/expenses/", _body(f"B-{key}"), content_type="application/json",
                                    HTTP_IDEMPOTENCY_KEY=key, **self.headers)
        return response.status_code

    def bare(self, ids) -> int:
        s, e, le, c = ids
        url = f"/bench/bare-insert/?s={s}&e={e}&le={le}&c={c}&sid=bare-{uuid.uuid4().hex}"
        return self.client.post(url, b"", content_type="application/json").status_code

    def bulk(self, items: int, lines: int) -> int:
        key = uuid.uuid4().hex
        body = {"items": [_body(f"K-{key}-{i}", lines) for i in range(items)]}
        response = self.client.post("/api/v1/expenses/bulk/", body, content_type="application/json",
                                    HTTP_IDEMPOTENCY_KEY=key, **self.headers)
        assert response.status_code == 200 and response.json()["failed"] == 0, response.content[:500]
        return items * lines


def _rate(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        status = fn()
        assert status == 201, status
    return n / (time.perf_counter() - started)


def _fixed_rate(token: str, rate: float, seconds: float, workers: int) -> tuple[float, float, int]:
    """Open-loop load: a request every 1/rate s; latency counted from its scheduled start."""
    from django.db import connection

    callers = {}

    def one(scheduled: float) -> float:
        import threading

        caller = callers.setdefault(threading.get_ident(), Caller(token))
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        status = caller.create()
        assert status == 201, status
        return time.perf_counter() - scheduled

    start = time.perf_counter() + 0.2
    n = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        latencies = list(pool.map(one, [start + i / rate for i in range(n)]))
    connection.close()
    latencies.sort()
    return latencies[int(0.95 * len(latencies)) - 1] * 1000, statistics.median(latencies) * 1000, n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300, help="sequential creates per side")
    parser.add_argument("--rate", type=float, default=150)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--bulk-items", type=int, default=100)
    parser.add_argument("--bulk-lines", type=int, default=10)
    parser.add_argument("--bulk-requests", type=int, default=5)
    args = parser.parse_args()
    _setup()
    from django.db import connection

    from controlplane.connections.models import ExternalSystem
    from controlplane.masterdata.models import Currency, Employee

    token = _token()
    caller = Caller(token)
    emp = Employee.objects.get(code="US-EMP1")
    ids = (ExternalSystem.objects.get(code="expenses-app").pk, emp.pk, emp.legal_entity_id,
           Currency.objects.get(code="USD").pk)
    for _ in range(20):  # warm-up: imports, caches, connections
        caller.create()
        caller.bare(ids)
    bare = _rate(lambda: caller.bare(ids), args.n)
    full = _rate(caller.create, args.n)
    p95, p50, sent = _fixed_rate(token, args.rate, args.seconds, args.workers)
    started = time.perf_counter()
    lines = sum(caller.bulk(args.bulk_items, args.bulk_lines) for _ in range(args.bulk_requests))
    bulk_rate = lines / (time.perf_counter() - started)
    vendor = connection.vendor
    rows = [
        ("database", vendor, ""),
        ("bare insert (req/s, sequential)", f"{bare:.0f}", ""),
        ("full create (req/s, sequential)", f"{full:.0f}", "target ≥ 0.5 × bare"),
        ("ratio full / bare", f"{full / bare:.2f}", "PASS" if full / bare >= 0.5 else "FAIL"),
        (f"p95 at {args.rate:.0f} req/s ({sent} req)", f"{p95:.1f} ms", "PASS" if p95 < 100 else "FAIL"),
        (f"p50 at {args.rate:.0f} req/s", f"{p50:.1f} ms", ""),
        (f"bulk ingest ({args.bulk_items}×{args.bulk_lines} lines/request)", f"{bulk_rate:.0f} lines/s",
         "PASS" if bulk_rate >= 2000 else "FAIL"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
