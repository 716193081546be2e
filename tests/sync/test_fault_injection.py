"""The promise to finance, under fire: an accepted expense is never lost and never posted twice.

Real worker processes post 2,000 expenses (``account.move`` records, by reference) to the Odoo
sandbox while pool children and whole workers (main process included) are SIGKILLed again and
again, the test's own ``redis-server`` is killed and restarted once (losing every queued
message: it runs without persistence), and the sandbox drops about 10% of its answers after
committing the work. Afterwards: no reference twice in Odoo, every job posted (or dead with an
open exception), and the amounts in Odoo equal the amounts enqueued.

The posting handler is ``test.odoo_post_move`` (controlplane/sync/testing.py: search by our
reference, then create the missing ones in one call, with the pure connector
``integrations.odoo``), standing in for ``odoo.post_expense``: the crash and redelivery
properties proven are the sync engine's.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction

import controlplane.sync.testing  # noqa: F401 — registers the test.* handlers
from controlplane.connections.models import ExternalSystem, SystemKind
from controlplane.exceptions.models import ExceptionRecord, ExceptionStatus
from controlplane.sync.models import JobState, OutboxJob
from controlplane.sync.services import outbox_enqueue
from integrations.odoo.client import OdooClient, OdooConfig
from integrations.odoo.sandbox.testing import run_sandbox
from tests.sync import workers

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

JOBS = int(os.environ.get("SYNC_CHAOS_JOBS", "2000"))
DEADLINE_S = float(os.environ.get("SYNC_CHAOS_DEADLINE_S", "420"))
OPERATION = "test.odoo_post_move"
PROCESS_ENV = {
    # Short leases and limits so a killed worker's jobs come back within seconds; the lease
    # still outlives the hard time limit, as in production.
    "SYNC_LEASE_SECONDS": "6", "CELERY_TASK_TIME_LIMIT": "5", "CELERY_TASK_SOFT_TIME_LIMIT": "4",
    "SYNC_BACKOFF_BASE_SECONDS": "0.25", "SYNC_BACKOFF_CAP_SECONDS": "3",
    "SYNC_RELAY_INTERVAL_SECONDS": "1", "SYNC_RELAY_REPUBLISH_AFTER_SECONDS": "3",
    "CELERY_REDIS_SOCKET_TIMEOUT": "2",
}


def enqueue_expenses(actor, system) -> dict[str, Decimal]:
    rng = random.Random(2026)
    amounts = {f"CHAOS-{i:05d}": Decimal(rng.randint(100, 250_000)) / 100 for i in range(JOBS)}
    # The wake-ups are left to the relay of the test's own broker (beat, below).
    with mock.patch("controlplane.sync.kick.kick"), transaction.atomic():
        for ref, amount in amounts.items():
            outbox_enqueue(actor=actor, target=system, operation=OPERATION, subject=None,
                           payload={"ref": ref, "amount": amount}, idempotency_key=f"chaos:{ref}")
    return amounts


def finished() -> int:
    return OutboxJob.objects.filter(operation=OPERATION, state__in=JobState.terminal()).count()


@pytest.mark.timeout(1500)  # creating the PostgreSQL test database alone may take minutes on a busy CI host
def test_no_expense_lost_or_posted_twice_under_crashes(actor, tmp_path):
    redis = workers.RedisServer(tmp_path).start()
    fleet: list[workers.Proc] = []
    try:
        with run_sandbox(tmp_path / "odoo", profile="17", latency="none", drop_after_commit_rate=0.1,
                         seed=11) as odoo:
            # given 2,000 accepted expenses in the outbox, for an Odoo system
            system = ExternalSystem(code="odoo-chaos", name="Odoo (chaos)", kind=SystemKind.ODOO,
                                    endpoint=odoo.url, protocol="xmlrpc", database=odoo.db, max_in_flight=12,
                                    timeout_seconds=Decimal("10"))
            system.set_credentials({"login": odoo.login, "password": odoo.password})
            system.save()
            amounts = enqueue_expenses(actor, system)

            # when workers post them while being killed, with Redis restarted once
            beat = workers.beat(redis.url, tmp_path, **PROCESS_ENV).start()
            names = ["w1", "w2", "w3"]
            pool = {n: workers.worker(n, redis.url, tmp_path, concurrency=3, **PROCESS_ENV).start() for n in names}
            fleet += [beat, *pool.values()]
            rng = random.Random(7)
            kills = Counter()
            redis_restarted = False
            actions = 0
            start = time.monotonic()
            while finished() < JOBS:
                assert time.monotonic() - start < DEADLINE_S, (
                    f"only {finished()} of {JOBS} finished; states "
                    f"{Counter(OutboxJob.objects.values_list('state', flat=True))}")
                time.sleep(rng.uniform(2.0, 4.0))
                done = finished()
                if done > JOBS * 0.95:
                    continue  # let the last jobs land
                if not redis_restarted and done > JOBS * 0.3:
                    redis.kill()
                    time.sleep(2)
                    redis.start()
                    redis_restarted = True
                    continue
                name = rng.choice(names)
                victim = pool[name]
                children = victim.children()
                actions += 1
                if actions % 3 and children:
                    os.kill(rng.choice(children), 9)
                    kills["pool_child"] += 1
                else:
                    victim.kill_group()  # SIGKILL the main process and its pool at once
                    kills["main"] += 1
                    pool[name] = workers.worker(name, redis.url, tmp_path, concurrency=3, **PROCESS_ENV).start()
                    fleet.append(pool[name])

            # then: faults really happened
            stats = odoo.stats()
            assert redis_restarted
            assert kills["pool_child"] >= 3 and kills["main"] >= 2, kills
            assert stats["faults_injected"]["drop_after_commit"] >= 0.05 * stats["calls"], stats

            # no reference twice in Odoo, every expense posted or dead with an open exception
            client = OdooClient(OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, password=odoo.password))
            odoo.control(drop_after_commit_rate=0.0)
            moves = client.search_read("account.move", [("ref", "like", "CHAOS-")], ["ref"])
            per_ref = Counter(m["ref"] for m in moves)
            assert [ref for ref, n in per_ref.items() if n > 1] == []
            jobs = {j.payload["ref"]: j for j in OutboxJob.objects.filter(operation=OPERATION)}
            dead_refs = {ref for ref, j in jobs.items() if j.state == JobState.DEAD}
            open_dead = set(ExceptionRecord.objects.filter(
                kind="sync_dead", status__in=ExceptionStatus.active()).values_list("dedupe_key", flat=True))
            assert all(f"sync_dead:{jobs[ref].pk}" in open_dead for ref in dead_refs)
            lost = [ref for ref in amounts if ref not in per_ref and ref not in dead_refs]
            assert lost == []
            assert set(per_ref) <= set(amounts)

            # and the amounts in Odoo are the amounts enqueued
            move_ref = {m["id"]: m["ref"] for m in moves}
            posted: Counter = Counter()
            ids = list(move_ref)
            for i in range(0, len(ids), 500):
                for line in client.search_read("account.move.line", [("move_id", "in", ids[i:i + 500])],
                                               ["move_id", "debit"]):
                    move_id = line["move_id"][0] if isinstance(line["move_id"], list | tuple) else line["move_id"]
                    posted[move_ref[move_id]] += Decimal(str(line["debit"]))
            mismatched = [ref for ref in per_ref if posted[ref] != amounts[ref]]
            assert mismatched == []
            assert sum(posted.values()) == sum(amounts[ref] for ref in per_ref)
            print(f"\nchaos: {JOBS} jobs, {len(per_ref)} posted, {len(dead_refs)} dead, kills {dict(kills)}, "
                  f"odoo calls {stats['calls']}, dropped after commit {stats['faults_injected']['drop_after_commit']}, "
                  f"{time.monotonic() - start:.0f}s")
    finally:
        for proc in fleet:
            proc.kill_group()
        redis.kill()
