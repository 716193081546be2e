"""API benchmark: full-path single-expense create vs a bare-insert baseline, p95 at a fixed
rate, and bulk-ingest lines per second. Not run by the tests.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/apiv1_bench .venv/bin/python bench/api/run.py [--http]

The full path is ``POST /api/v1/expenses/``: token auth, scope and entity checks, the
Idempotency-Key (lock, lookup, stored answer), validation, the system-of-record check, the
expense with its line, allocation and revision rows and a history row for each (a new draft
records no outbound event: events start at submission). The baseline is
``bench/api/urls.py::bare_insert``: one ``INSERT`` of an Expense row behind the same middleware.
Every figure of one run uses the same transport:

- default, **in-process**: requests go through Django's whole WSGI stack in this process
  (django.test.Client) — no socket, so the figures are the server's cost, not the network's.
  The fixed-rate load runs in client threads of this same process, sharing one interpreter
  lock with the server code: it measures one Python process, not a deployment.
- ``--http``: the same requests over HTTP (a TCP connection per request) to gunicorn serving
  ``bench/api/wsgi.py`` with ``--server-workers`` sync workers (3, as the Dockerfile runs it)
  and persistent database connections (``DB_CONN_MAX_AGE``, default 60 here; production
  should set it too, otherwise every request opens a connection). The client threads run in
  this process, on the same machine as the server and the database.

Sequential rates: one request at a time, ``--n`` per side. p95/p50: open-loop load, a request
every 1/``--rate`` s for ``--seconds`` from ``--workers`` client threads, latency counted from
each request's scheduled start (so a server that falls behind shows its queue). The database
named by DATABASE_URL is migrated (and created if missing on PostgreSQL); use a scratch database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


class InProcess:
    """Requests through Django's WSGI stack in this process (django.test.Client)."""

    label = "in-process (django.test.Client)"

    def __init__(self):
        from django.test import Client

        self.client = Client()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        response = self.client.post(path, body, content_type="application/json", **meta)
        return response.status_code, response.content


class Http:
    """Requests over HTTP to the benchmark server (one TCP connection per request: gunicorn's
    sync workers close it after each answer)."""

    def __init__(self, port: int, workers: int):
        self.port = port
        self.label = f"HTTP to gunicorn, {workers} sync workers (as the Dockerfile runs it)"

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


class Caller:
    def __init__(self, transport, token: str):
        self.transport = transport
        self.headers = {"Authorization": f"Bearer {token}"}

    def create(self) -> int:
        key = uuid.uuid4().hex
        body = json.dumps(_body(f"B-{key}")).encode()
        return self.transport.post("/api/v1/expenses/", body, {**self.headers, "Idempotency-Key": key})[0]

    def bare(self, ids) -> int:
        s, e, le, c = ids
        url = f"/bench/bare-insert/?s={s}&e={e}&le={le}&c={c}&sid=bare-{uuid.uuid4().hex}"
        return self.transport.post(url, b"", {})[0]

    def bulk(self, items: int, lines: int) -> int:
        key = uuid.uuid4().hex
        body = json.dumps({"items": [_body(f"K-{key}-{i}", lines) for i in range(items)]}).encode()
        status, content = self.transport.post("/api/v1/expenses/bulk/", body, {**self.headers, "Idempotency-Key": key})
        assert status == 200 and json.loads(content)["failed"] == 0, content[:500]
        return items * lines


def _rate(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        status = fn()
        assert status == 201, status
    return n / (time.perf_counter() - started)


def _fixed_rate(make_caller, rate: float, seconds: float, workers: int) -> tuple[float, float, int]:
    """Open-loop load: a request every 1/rate s; latency counted from its scheduled start."""
    import threading

    callers = {}

    def one(scheduled: float) -> float:
        caller = callers.get(threading.get_ident())
        if caller is None:
            caller = callers[threading.get_ident()] = make_caller()
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
    latencies.sort()
    return latencies[int(0.95 * len(latencies)) - 1] * 1000, statistics.median(latencies) * 1000, n


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(workers: int):
    """gunicorn serving ``bench.api.wsgi`` on a free port; returns (process, port) once it answers."""
    import subprocess
    import urllib.request

    port = _free_port()
    env = {**os.environ, "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60")}
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.api.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning"],
        cwd=root, env=env,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as response:
                if response.status == 200:
                    return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit("the benchmark server did not start") from None
            time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300, help="sequential creates per side")
    parser.add_argument("--rate", type=float, default=150)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=8, help="client threads of the fixed-rate load")
    parser.add_argument("--bulk-items", type=int, default=100)
    parser.add_argument("--bulk-lines", type=int, default=10)
    parser.add_argument("--bulk-requests", type=int, default=5)
    parser.add_argument("--http", action="store_true", help="measure over HTTP against gunicorn (see the docstring)")
    parser.add_argument("--server-workers", type=int, default=3, help="gunicorn workers with --http")
    args = parser.parse_args()
    _setup()
    from django.db import connection

    from controlplane.connections.models import ExternalSystem
    from controlplane.masterdata.models import Currency, Employee

    token = _token()
    emp = Employee.objects.get(code="US-EMP1")
    ids = (ExternalSystem.objects.get(code="expenses-app").pk, emp.pk, emp.legal_entity_id,
           Currency.objects.get(code="USD").pk)
    vendor = connection.vendor
    server = None
    if args.http:
        connection.close()
        server, port = _start_server(args.server_workers)
        transport = Http(port, args.server_workers)

        def make_transport():
            return transport
    else:
        make_transport = InProcess
        transport = make_transport()
    try:
        caller = Caller(transport, token)
        for _ in range(20 * (args.server_workers if args.http else 1)):  # warm-up: imports, caches, connections
            caller.create()
            caller.bare(ids)
        bare = _rate(lambda: caller.bare(ids), args.n)
        full = _rate(caller.create, args.n)
        p95, p50, sent = _fixed_rate(lambda: Caller(make_transport(), token), args.rate, args.seconds, args.workers)
        started = time.perf_counter()
        lines = sum(caller.bulk(args.bulk_items, args.bulk_lines) for _ in range(args.bulk_requests))
        bulk_rate = lines / (time.perf_counter() - started)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    rows = [
        ("database", vendor, ""),
        ("requests", transport.label, ""),
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
