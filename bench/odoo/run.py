"""Odoo posting benchmark: ``python -m bench.odoo.run [--quick] [--profile 17|19] [-n 1000]``.

One sandbox with the realistic latency profile (17: 29 ms per call, 3.9 ms per record created,
20 ms per entry posted; see ``integrations/odoo/sandbox/faults.py``), and, side by side in one
run, N vendor bills (journal-entry mode) taken from draft to **posted** three ways:

1. **naive**: a direct script with odoo-client-lib, the way point-to-point glue does it — per
   expense, one ``account.move.create`` and one ``action_post`` (the same job as the others,
   one expense at a time; the vendor and journal are known up front, as for the others);
2. **ceiling**: the sandbox's batch ceiling — raw ``account.move.create`` of 100 records per
   call, then one ``action_post`` per 100: the least work that ends with posted bills (its
   create phase alone is shown too, for reference);
3. **connector**: :func:`integrations.odoo.posting.post_expenses` in batches of 100 — lookups by
   reference, create, external ids, total check, post, read-back, as production runs it (the
   postings carry the purchase journal, as the control plane's imported master data does).

For each side the sandbox's own counters give calls, records created and entries posted, and
the latency model turns them into the time a real server would need: the table shows both, so
the ratios can be checked by arithmetic. ``model ceiling / naive`` is the most any batching
connector can gain over the naive script with these recorded costs.

Prints a table, then as its last line one JSON object of figures (``bench/run.py`` reads it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

import odoolib

from integrations.odoo import mappers
from integrations.odoo.binder import InMemoryBinder
from integrations.odoo.client import OdooClient, OdooConfig
from integrations.odoo.employees import export_employees
from integrations.odoo.posting import post_expenses
from integrations.odoo.sandbox.faults import LATENCY_MODELS
from integrations.odoo.sandbox.testing import run_sandbox
from integrations.odoo.types import EmployeeExport, ExpensePosting, PostingLine

BATCH = 100
PURCHASE_TAX, MEALS, USD = 2, 1, 1


def postings(n: int, employee_id: int, tag: str, journal_id: int | None = None) -> list[ExpensePosting]:
    return [ExpensePosting(
        ref=f"CP-{tag}{i:05d}-R1", employee_id=employee_id, product_id=MEALS, currency_id=USD, date=dt.date.today(),
        description=f"bench {i}", journal_id=journal_id,
        lines=(PostingLine(amount=Decimal("115.00"), tax_ids=(PURCHASE_TAX,), untaxed_amount=Decimal("100.00")),),
    ) for i in range(n)]


class Side:
    """One way of posting: wall time and what the sandbox counted while it ran."""

    def __init__(self, box, profile: str) -> None:
        self.box = box
        self.model = LATENCY_MODELS[profile]
        self.seconds = 0.0
        self.calls = self.records = self.posted = 0

    def run(self, fn: Callable[[], object], posted: int) -> Side:
        before = self.box.stats()
        started = time.perf_counter()
        fn()
        self.seconds += time.perf_counter() - started
        after = self.box.stats()
        self.calls += after["calls"] - before["calls"]
        self.records += after["records_created"] - before["records_created"]
        self.posted += posted
        return self

    def modelled(self) -> float:
        """Seconds the latency model charges for what this side asked of the server."""
        m = self.model
        return (self.calls * m["base_ms"] + self.records * m["per_record_ms"] + self.posted * m["per_post_ms"]) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.odoo.run")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 expenses")
    parser.add_argument("--profile", default="17", choices=["17", "19"])
    args = parser.parse_args(argv)
    n = 200 if args.quick else args.n
    with run_sandbox(tempfile.mkdtemp(prefix="bench-odoo-"), profile=args.profile, latency="realistic",
                     workers=4) as box:
        client = OdooClient(OdooConfig(url=box.url, db=box.db, login=box.login, password=box.password, timeout=120))
        [employee] = export_employees(client, [EmployeeExport("bench", "Bench Person", "bench@example.com")],
                                      binder=InMemoryBinder())
        field = client.version().employee_partner_field
        partner = client.read("hr.employee", [employee.odoo_id], [field])[0][field][0]
        [journal] = client.search("account.journal", [("type", "=", "purchase")], limit=1, order="sequence, id")
        tag = uuid.uuid4().hex[:4].upper()

        # 1. naive: create + post, one expense at a time, over odoo-client-lib
        naive_vals = [mappers.move_vals(p, partner) for p in postings(n, employee.odoo_id, tag + "N", journal)]
        conn = odoolib.get_connection(hostname=box.host, port=box.port, database=box.db, login=box.login,
                                      password=box.password, protocol="xmlrpc")
        moves = conn.get_model("account.move")

        def naive() -> None:
            for vals in naive_vals:
                moves.action_post([moves.create(vals)])

        naive_side = Side(box, args.profile).run(naive, posted=n)

        # 2. ceiling: create 100 per call, then action_post per 100
        ceiling_vals = [mappers.move_vals(p, partner) for p in postings(n, employee.odoo_id, tag + "C", journal)]
        ceiling_ids: list[int] = []
        create_side = Side(box, args.profile).run(
            lambda: [ceiling_ids.extend(client.create("account.move", ceiling_vals[i:i + BATCH]))
                     for i in range(0, n, BATCH)], posted=0)
        post_side = Side(box, args.profile).run(
            lambda: [client.call("account.move", "action_post", ceiling_ids[i:i + BATCH]) for i in range(0, n, BATCH)],
            posted=n)
        ceiling_side = Side(box, args.profile)
        for part in (create_side, post_side):
            ceiling_side.seconds += part.seconds
            ceiling_side.calls += part.calls
            ceiling_side.records += part.records
            ceiling_side.posted += part.posted

        # 3. the connector, batches of 100
        ours = postings(n, employee.odoo_id, tag + "P", journal)
        outcomes: list = []
        connector_side = Side(box, args.profile).run(
            lambda: [outcomes.extend(post_expenses(client, ours[i:i + BATCH], mode="journal_entry"))
                     for i in range(0, n, BATCH)], posted=n)
        posted = sum(1 for o in outcomes if getattr(o, "posted", False))
        found = client.search_count("account.move", [("ref", "in", [p.ref for p in ours]), ("state", "=", "posted")])
        naive_posted = client.search_count(
            "account.move", [("ref", "=like", f"CP-{tag}N%"), ("state", "=", "posted")])
        ceiling_posted = client.search_count(
            "account.move", [("ref", "=like", f"CP-{tag}C%"), ("state", "=", "posted")])

    sides = {"naive": naive_side, "ceiling_create": create_side, "ceiling": ceiling_side,
             "connector": connector_side}
    rate = {k: round(n / s.seconds, 1) for k, s in sides.items()}
    modelled_rate = {k: round(n / s.modelled(), 1) for k, s in sides.items()}
    vs_naive = round(rate["connector"] / rate["naive"], 2)
    vs_ceiling = round(rate["connector"] / rate["ceiling"], 2)
    vs_create = round(rate["connector"] / rate["ceiling_create"], 2)
    bound = round(naive_side.modelled() / ceiling_side.modelled(), 2)
    m = LATENCY_MODELS[args.profile]
    print(f"Odoo {args.profile} sandbox, realistic latency ({m['base_ms']} ms/call, {m['per_record_ms']} ms/record"
          f" created, {m['per_post_ms']} ms/entry posted), {n} vendor bills, batches of {BATCH}")
    print(f"  {'side':44s} {'wall':>8s} {'rate':>8s} {'calls':>6s} {'records':>8s} {'posted':>6s}"
          f" {'model':>8s} {'rate':>7s}")
    labels = {"naive": "naive: create + action_post per expense",
              "ceiling_create": "ceiling, create phase only (100/call)",
              "ceiling": "ceiling: create + action_post, 100/call",
              "connector": "connector: lookup, create, xmlids, post, read"}
    for key, side in sides.items():
        print(f"  {labels[key]:44s} {side.seconds:7.2f}s {rate[key]:7.1f}/s {side.calls:6d} {side.records:8d}"
              f" {side.posted:6d} {side.modelled():7.2f}s {modelled_rate[key]:6.1f}/s")
    print(f"  posted: naive {naive_posted}/{n}, ceiling {ceiling_posted}/{n}, connector {posted}/{n}"
          f" (found posted by ref {found})")
    print(f"  connector / naive   = {vs_naive}x (target >= 5; the model's bound for any batching"
          f" connector is ceiling / naive = {bound}x)")
    print(f"  connector / ceiling = {vs_ceiling}x (target >= 0.8); / create-only ceiling = {vs_create}x")
    figures = {
        "odoo posting vs naive create+post per expense": {
            "value": rate["connector"], "unit": "bills/s", "baseline": rate["naive"], "baseline_unit": "bills/s",
            "ratio": vs_naive, "note": f"target >= 5x; modelled bound (ceiling/naive) {bound}x"},
        "odoo posting vs raw create+post ceiling (100/call)": {
            "value": rate["connector"], "unit": "bills/s", "baseline": rate["ceiling"],
            "baseline_unit": "bills/s", "ratio": vs_ceiling, "note": "target >= 0.8x"},
        "odoo posting vs raw create-only ceiling (100/call)": {
            "value": rate["connector"], "unit": "bills/s", "baseline": rate["ceiling_create"],
            "baseline_unit": "bills/s", "ratio": vs_create, "note": "drafts only: no posting, no lookups"},
        "odoo bills posted / found by reference": {"value": posted, "unit": "", "baseline": found,
                                                   "baseline_unit": "", "ratio": None, "note": f"of {n}"},
    }
    print(json.dumps(figures))
    return 0 if posted == n == found == naive_posted == ceiling_posted else 1


if __name__ == "__main__":
    sys.exit(main())
