"""The promise to finance, under fire: an accepted expense is never lost and never posted twice.

Given 2,000 real expenses queued for posting, each with its one ``odoo.post_expense`` outbox job
(100 taken through the lifecycle services one by one, the rest by the production bulk ingest,
the model's transitions and the production ``enqueue_posting``: ``chaos_fixtures``), real
Celery workers post them to the Odoo sandbox through the real handler
(``controlplane.odoo.handlers.post_expense_handler``: posting ledger, bindings,
``expense_mark_posted``), in the batch windows of a SyncPolicy fired by beat with the
production (database) scheduler, while pool children and whole workers (main process included)
are SIGKILLed again and again, the test's own ``redis-server`` is killed and restarted once
(losing every queued message: it runs without persistence), and the sandbox drops about 8% of
its answers after committing the work.

Afterwards, by reference (``expense.posting_reference``): exactly one document per expense in
Odoo in every view of the entity's posting mode (``hr.expense`` per line, the report
``hr.expense.sheet`` and its ``account.move`` in expense mode; the bill in journal-entry mode),
every expense posted or its job dead with an open exception, and Odoo's amounts equal to the
expense totals. ``SYNC_CHAOS_JOBS`` scales it, ``SYNC_CHAOS_MODE`` picks the posting mode.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from controlplane.core.actors import Actor
from controlplane.exceptions.models import ExceptionRecord, ExceptionStatus
from controlplane.expenses.models import Expense
from controlplane.expenses.states import PostingState
from controlplane.odoo.connection import odoo_client
from controlplane.sync.models import JobState, OutboxJob, SyncMode
from controlplane.sync.policies import sync_policy_set
from controlplane.sync.services import dead_exception_key
from integrations.odoo.sandbox.testing import run_sandbox
from tests.sync import workers
from tests.sync.chaos_fixtures import chaos_org, reviewed_expenses

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

JOBS = int(os.environ.get("SYNC_CHAOS_JOBS", "2000"))
MODE = os.environ.get("SYNC_CHAOS_MODE", "expense")
DEADLINE_S = float(os.environ.get("SYNC_CHAOS_DEADLINE_S", "900"))
# Faults are injected during the first half of the deadline; the rest lets the fleet settle,
# so a slow host ends with every job decided rather than with a worker killed mid-batch.
CHAOS_WINDOW_S = DEADLINE_S / 2
DROP_RATE = 0.08  # of every answer; the issue asks for at least 5%, asserted below
# One fault (a kill, or the Redis restart) every few seconds: each pool-child kill loses a
# batch in flight until its lease expires, each whole-worker kill a worker until it has booted.
FAULT_EVERY_S = (5.0, 8.0)
WORKERS, CONCURRENCY = ["w1", "w2", "w3"], 2
OPERATION = "odoo.post_expense"
CENT = Decimal("0.01")
PROCESS_ENV = {
    # Short leases and limits so a killed worker's jobs (and its posting-ledger claims) come
    # back within seconds; each lease still outlives the hard time limit, as in production.
    "SYNC_LEASE_SECONDS": "25",
    "CELERY_TASK_TIME_LIMIT": "20", "CELERY_TASK_SOFT_TIME_LIMIT": "15",
    "SYNC_BACKOFF_BASE_SECONDS": "0.25", "SYNC_BACKOFF_CAP_SECONDS": "3",
    "SYNC_RELAY_INTERVAL_SECONDS": "1", "SYNC_RELAY_REPUBLISH_AFTER_SECONDS": "3",
    "CELERY_REDIS_SOCKET_TIMEOUT": "2",
}


def finished() -> int:
    return OutboxJob.objects.filter(operation=OPERATION, state__in=JobState.terminal()).count()


def in_chunks(values: list, size: int = 200):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def odoo_documents(client, refs: list[str], mode: str) -> dict[str, dict[str, list[dict]]]:
    """What Odoo holds for our references, per view: ``move`` (account.move by ``ref``) always;
    in expense mode also ``expense`` (hr.expense named ``ref`` or ``ref/n``) and, where Odoo has
    reports, ``sheet`` (hr.expense.sheet by name)."""
    views: dict[str, dict[str, list[dict]]] = {"move": defaultdict(list)}
    for chunk in in_chunks(refs):
        for row in client.search_read("account.move", [("ref", "in", chunk), ("state", "!=", "cancel")],
                                      ["ref", "amount_total", "state"]):
            views["move"][row["ref"]].append(row)
    if mode != "expense":
        return views
    wanted = set(refs)
    views["expense"] = defaultdict(list)
    for row in client.search_read("hr.expense", [("name", "=like", "CP-%")], ["name", "total_amount_currency"]):
        ref = row["name"].split("/", 1)[0]
        if ref in wanted:
            views["expense"][ref].append(row)
    if client.version().has_expense_sheets:
        views["sheet"] = defaultdict(list)
        for chunk in in_chunks(refs):
            for row in client.search_read("hr.expense.sheet", [("name", "in", chunk)], ["name", "state"]):
                views["sheet"][row["name"]].append(row)
    return views


def amount(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


@pytest.mark.timeout(1500)  # creating the PostgreSQL test database alone may take minutes on a busy CI host
def test_no_expense_lost_or_posted_twice_under_crashes(tmp_path):
    redis = workers.RedisServer(tmp_path).start()
    fleet: list[workers.Proc] = []
    began = time.monotonic()
    try:
        with run_sandbox(tmp_path / "odoo", profile="17", latency="none", seed=11) as odoo:
            # given an organisation lined up with Odoo (master data imported, employees exported)
            lead = Actor(reason="chaos test")
            org = chaos_org(odoo, mode=MODE, worker=Actor(system=None, reason="chaos setup"))
            # and postings in batch windows of 25 every 2 seconds
            sync_policy_set(actor=lead, operation=OPERATION, mode=SyncMode.BATCH, every_seconds=2, batch_size=25)
            # and 2,000 expenses finance reviewed, each with its posting job
            expense_ids = reviewed_expenses(org, JOBS)
            setup_s = time.monotonic() - began
            print(f"\nchaos setup: {JOBS} expenses finance reviewed in {setup_s:.0f}s", flush=True)
            jobs = OutboxJob.objects.filter(operation=OPERATION)
            assert jobs.count() == JOBS and set(jobs.values_list("state", flat=True)) == {JobState.PENDING}
            # and an Odoo that commits, then drops, about one answer in twelve
            calls_before = odoo.stats()["calls"]
            odoo.control(drop_after_commit_rate=DROP_RATE)

            # when workers post them while being killed, with Redis restarted once
            beat = workers.beat(redis.url, tmp_path, database_schedule=True, **PROCESS_ENV).start()
            names = WORKERS
            pool = {n: workers.worker(n, redis.url, tmp_path, concurrency=CONCURRENCY, **PROCESS_ENV).start()
                    for n in names}
            fleet += [beat, *pool.values()]
            rng = random.Random(7)
            kills = Counter()
            redis_restarted = False
            actions = 0
            start = time.monotonic()
            next_fault = start + rng.uniform(*FAULT_EVERY_S)
            while finished() < JOBS:
                assert time.monotonic() - start < DEADLINE_S, (
                    f"only {finished()} of {JOBS} finished; states "
                    f"{Counter(OutboxJob.objects.filter(operation=OPERATION).values_list('state', flat=True))}")
                time.sleep(1.0)
                if time.monotonic() < next_fault:
                    continue
                next_fault = time.monotonic() + rng.uniform(*FAULT_EVERY_S)
                done = finished()
                elapsed = time.monotonic() - start
                if done > JOBS * 0.95 or elapsed > CHAOS_WINDOW_S:
                    continue  # let the last jobs land
                if not redis_restarted and (done > JOBS * 0.3 or elapsed > CHAOS_WINDOW_S / 3):
                    redis.kill()
                    time.sleep(2)
                    redis.start()
                    redis_restarted = True
                    continue
                # Only workers that are up (their pool has started) are worth killing: a worker
                # killed while still booting proves nothing and starves the run.
                up = [n for n in names if pool[n].children()]
                if not up:
                    continue
                name = rng.choice(up)
                victim = pool[name]
                actions += 1
                if actions % 3:
                    os.kill(rng.choice(victim.children()), 9)
                    kills["pool_child"] += 1
                else:
                    victim.kill_group()  # SIGKILL the main process and its pool at once
                    kills["main"] += 1
                    pool[name] = workers.worker(name, redis.url, tmp_path, concurrency=CONCURRENCY,
                                                **PROCESS_ENV).start()
                    fleet.append(pool[name])
            chaos_s = time.monotonic() - start

            # then the faults really happened
            stats = odoo.stats()
            odoo.control(drop_after_commit_rate=0.0)
            calls = stats["calls"] - calls_before
            dropped = stats["faults_injected"]["drop_after_commit"]
            assert redis_restarted
            assert kills["pool_child"] >= 3 and kills["main"] >= 2, kills
            assert dropped >= 0.05 * calls, stats

            # and every expense is posted, or its job is dead with an open exception for a person
            expenses = {e.posting_reference: e for e in Expense.objects.filter(pk__in=expense_ids)
                        .prefetch_related("lines")}
            job_of = {j.payload["expense_id"]: j for j in jobs}
            assert len(expenses) == JOBS and set(job_of) == set(expense_ids)
            posted = {ref for ref, e in expenses.items() if e.posting_state == PostingState.POSTED}
            dead = {ref for ref, e in expenses.items() if job_of[e.pk].state == JobState.DEAD}
            open_keys = set(ExceptionRecord.objects.filter(status__in=ExceptionStatus.active())
                            .values_list("dedupe_key", flat=True))
            open_subjects = set(ExceptionRecord.objects.filter(
                status__in=ExceptionStatus.active(), content_type__model="expense").values_list("object_id", flat=True))
            unattended = [ref for ref in dead if dead_exception_key(job_of[expenses[ref].pk]) not in open_keys
                          and str(expenses[ref].pk) not in open_subjects]
            assert unattended == []
            lost = sorted(set(expenses) - posted - dead)
            assert lost == [], [(ref, expenses[ref].posting_state, job_of[expenses[ref].pk].state) for ref in lost[:20]]
            # (a posted expense's job may still have gone dead: a try lost with its worker after
            # the posting committed counts against the attempts; the exception is then a false
            # alarm for a person, never a loss or a duplicate)
            posted_but_dead = posted & dead

            # and Odoo holds exactly one document per reference in every view, none for strangers
            views = odoo_documents(odoo_client(org.system), sorted(expenses), MODE)
            for view, found in views.items():
                twice = {ref: len(rows) for ref, rows in found.items() if len(rows) > 1 and view != "expense"}
                assert twice == {}, (view, twice)
                assert set(found) >= posted, (view, sorted(posted - set(found))[:20])
            if "expense" in views:
                for ref, rows in views["expense"].items():
                    names = Counter(r["name"] for r in rows)
                    lines = expenses[ref].lines.count()
                    assert max(names.values()) == 1 and len(names) == lines, (ref, names)

            # and Odoo's amounts are the expense totals
            mismatched = {ref: (str(expenses[ref].total_amount), str(rows[0]["amount_total"]))
                          for ref, rows in views["move"].items() if amount(rows[0]["amount_total"]) != expenses[ref].total_amount}
            assert mismatched == {}
            if "expense" in views:
                sums = {ref: sum((amount(r["total_amount_currency"]) for r in rows), Decimal(0))
                        for ref, rows in views["expense"].items()}
                assert {ref: s for ref, s in sums.items() if s != expenses[ref].total_amount} == {}
            assert sum(amount(views["move"][ref][0]["amount_total"]) for ref in posted) == \
                sum(expenses[ref].total_amount for ref in posted)
            print(f"\nchaos ({MODE}): {JOBS} expenses, {len(posted)} posted, {len(dead)} dead "
                  f"({len(posted_but_dead)} of them posted), kills {dict(kills)}, "
                  f"redis restarted once, odoo calls {calls}, dropped after commit {dropped}; "
                  f"setup {setup_s:.0f}s, chaos {chaos_s:.0f}s, total {time.monotonic() - began:.0f}s")
    finally:
        for proc in fleet:
            proc.kill_group()
        redis.kill()
