"""End to end, one size: ``python -m bench.e2e N`` prints one JSON line.

A fresh stack (own directory; PostgreSQL + Redis when ``BENCH_DATABASE_URL`` /
``BENCH_BROKER_URL`` are set, else SQLite and the filesystem broker), the sandbox with its
realistic latency profile. Measured, from the first API call to the last expense posted:

- single creates: ``min(200, N/5)`` expenses created and submitted one request each;
- the rest in chunks of ``BENCH_BULK`` (100), ``BENCH_PIPELINES`` (2) chunks in flight, each
  chunk carried through by bulk requests: ``/expenses/bulk/`` (created and submitted), then
  ``/approvals/bulk/`` (each approved by its manager), then ``/finance-reviews/bulk/`` (which
  queues the postings) — while the workers post earlier chunks in batch windows (every 5 s);
- stage rates are items per second of request time (the sum of that stage's request durations);
- the run ends when every expense is posted;
- the peak resident memory of the worker processes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import drop_postgres, fresh_postgres_url, group_peak_rss_mb
from controlplane.demo.client import ApiClient
from controlplane.demo.run import prepare_environment

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "6"))
BULK = int(os.environ.get("BENCH_BULK", "100"))
PIPELINES = int(os.environ.get("BENCH_PIPELINES", "2"))


def _item(i: int, entity: str, currency: str, employee: str, run: str) -> dict:
    day = dt.date.today() - dt.timedelta(days=1 + i % 30)
    amount = f"{20 + (i * 37) % 400}.{i % 100:02d}"
    return {"source_id": f"{run}-{i:06d}", "legal_entity": entity, "employee": employee, "currency": currency,
            "purpose": f"bench {i}", "submit": True,
            "lines": [{"date": day.isoformat(), "category": "TRAVEL", "merchant": f"Taxi {i}", "amount": amount,
                       **({"tax_code": ""} if entity == "FR01" else {})}]}


def _pool(fn, items) -> list:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(fn, items))


def measure(n: int, log) -> dict:
    import django

    django.setup()
    from controlplane.demo.scenario import Scenario
    from controlplane.demo.summary import posting_progress

    var_dir = Path(os.environ["CONTROLPLANE_VAR_DIR"])
    scenario = Scenario(var_dir=var_dir, count=n, log=log, sandbox_latency=os.environ.get("BENCH_LATENCY", "realistic"),
                        workers=int(os.environ.get("BENCH_WORKERS", "1")))
    try:
        scenario.start()
        api = ApiClient(scenario.stack.web_url, scenario.platform_token, timeout=600)
        run = f"b{int(time.time())}"
        people = [("US01", "USD", "US-EMP1", "US-MGR", "US-FIN"), ("US01", "USD", "US-EMP2", "US-MGR", "US-FIN"),
                  ("FR01", "EUR", "FR-EMP1", "FR-MGR", "FR-FIN")]
        items = [(_item(i, *people[i % 3][:3], run), people[i % 3]) for i in range(n)]
        singles = min(200, n // 5)
        busy = {"bulk": 0.0, "approve": 0.0, "review": 0.0}
        counts = {"created": 0, "approved": 0, "reviewed": 0}
        lock = threading.Lock()

        def timed(stage: str, path: str, body: dict):
            started = time.monotonic()
            answer = api.post(path, body)
            with lock:
                busy[stage] += time.monotonic() - started
            if not (answer.ok and isinstance(answer.body, dict)):
                log(f"{path} answered {answer.status}: {str(answer.body)[:300]}")
                return []
            return answer.body["results"]

        def decide_and_review(created: list) -> None:
            """Managers approve, then finance reviews (which queues the postings): bulk requests."""
            ok = timed("approve", "approvals/bulk/", {"items": [
                {"expense": eid, "approver": who[3], "decision": "approve"} for eid, who in created]})
            approved = {r["expense"] for r in ok if r["status"] == "ok" and r["approval_state"] == "manager_approved"}
            by_reviewer: dict[str, list] = {}
            for eid, who in created:
                if eid in approved:
                    by_reviewer.setdefault(who[4], []).append({"expense": eid})
            reviewed = 0
            for reviewer, todo in by_reviewer.items():
                answer = timed("review", "finance-reviews/bulk/", {"reviewer": reviewer, "items": todo})
                reviewed += sum(1 for r in answer if r["status"] == "ok")
            with lock:
                counts["approved"] += len(approved)
                counts["reviewed"] += reviewed

        began = time.monotonic()

        def create(pair):
            answer = api.post("expenses/", pair[0])
            return (answer.body["id"], pair[1]) if answer.status in (200, 201) else None

        singles_created = [c for c in _pool(create, items[:singles]) if c]
        single_s = time.monotonic() - began
        counts["created"] += len(singles_created)

        def pipeline(chunk):
            """One chunk all the way to finance review while the workers post earlier chunks."""
            results = timed("bulk", "expenses/bulk/", {"items": [c[0] for c in chunk]})
            created = [(r["id"], chunk[r["index"]][1]) for r in results if r["status"] != "error"]
            with lock:
                counts["created"] += len(created)
            if created:
                decide_and_review(created)

        if singles_created:
            decide_and_review(singles_created)
        chunks = [items[k:k + BULK] for k in range(singles, n, BULK)]
        # PIPELINES chunks in flight at once (a bulk request holds a web worker for its batch).
        with ThreadPoolExecutor(max_workers=PIPELINES) as pool:
            list(pool.map(pipeline, chunks))
        reviews_done_s = time.monotonic() - began
        deadline = time.monotonic() + float(os.environ.get("BENCH_TIMEOUT_S", "3600"))
        rss = 0.0
        while True:
            progress = posting_progress()
            rss = max([rss] + [group_peak_rss_mb(scenario.stack.pid_of(w)) for w in scenario.stack.procs
                               if w.startswith("worker")])
            if progress["waiting"] <= 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        total_s = time.monotonic() - began
        return {
            "n": n, "created": counts["created"], "approved": counts["approved"], "reviewed": counts["reviewed"],
            "posted": progress["posted"], "posting_failed": progress["failed"],
            "single_create_per_s": round(singles / single_s, 1) if singles else None,
            "bulk_ingest_per_s": round((counts["created"] - len(singles_created)) / busy["bulk"], 1)
            if busy["bulk"] else None,
            "approvals_per_s": round(counts["approved"] / busy["approve"], 1) if busy["approve"] else None,
            "reviews_per_s": round(counts["reviewed"] / busy["review"], 1) if busy["review"] else None,
            "e2e_s": round(total_s, 1), "reviews_done_s": round(reviews_done_s, 1),
            "posting_tail_s": round(total_s - reviews_done_s, 1),
            "peak_worker_rss_mb": rss, "database": os.environ.get("DATABASE_URL", "sqlite").split("://")[0],
            "broker": os.environ.get("CELERY_BROKER_URL", "filesystem").split("://")[0],
        }
    finally:
        scenario.stop()


def main() -> int:
    n = int(sys.argv[1])
    base_db = os.environ.get("BENCH_DATABASE_URL", "")
    db_url, db_name = fresh_postgres_url(base_db) if base_db else ("", "")
    prepare_environment(Path(tempfile.mkdtemp(prefix=f"bench-e2e-{n}-")), database_url=db_url,
                        broker_url=os.environ.get("BENCH_BROKER_URL", ""))

    def log(msg: str) -> None:
        print(f"[e2e {n} {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        result = measure(n, log)
    finally:
        if db_name:
            drop_postgres(base_db, db_name)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
