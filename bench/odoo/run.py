"""Odoo posting benchmark: ``python -m bench.odoo.run [--quick] [--profile 17|19] [-n 1000]``.

One sandbox with the realistic latency profile (about 29 ms per call plus 3.9 ms per record
created and 20 ms per entry posted, fitted to a real Odoo 17), and, side by side in one run,
N vendor bills (journal-entry mode) posted:

1. **naive**: a direct script with odoo-client-lib, one ``account.move.create`` call per
   expense (drafts only: it does less work than the others);
2. **ceiling**: the sandbox's create-in-batches ceiling, raw ``account.move.create`` of 100
   records per call — and the same followed by one ``action_post`` per 100, which is the
   least work that ends with posted bills;
3. **connector**: :func:`integrations.odoo.posting.post_expenses` in batches of 100 — lookups by
   reference, create, external ids, post, read-back, as production runs it.

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
from decimal import Decimal

import odoolib

from integrations.odoo import mappers
from integrations.odoo.binder import InMemoryBinder
from integrations.odoo.client import OdooClient, OdooConfig
from integrations.odoo.employees import export_employees
from integrations.odoo.posting import post_expenses
from integrations.odoo.sandbox.testing import run_sandbox
from integrations.odoo.types import EmployeeExport, ExpensePosting, PostingLine

BATCH = 100
PURCHASE_TAX, MEALS, USD = 2, 1, 1


def postings(n: int, employee_id: int, tag: str) -> list[ExpensePosting]:
    return [ExpensePosting(
        ref=f"CP-{tag}{i:05d}-R1", employee_id=employee_id, product_id=MEALS, currency_id=USD, date=dt.date.today(),
        description=f"bench {i}",
        lines=(PostingLine(amount=Decimal("115.00"), tax_ids=(PURCHASE_TAX,), untaxed_amount=Decimal("100.00")),),
    ) for i in range(n)]


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


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
        partner = client.read("hr.employee", [employee.odoo_id],
                              [client.version().employee_partner_field])[0][client.version().employee_partner_field][0]
        tag = uuid.uuid4().hex[:4].upper()

        naive_vals = [mappers.move_vals(p, partner) for p in postings(n, employee.odoo_id, tag + "N")]
        conn = odoolib.get_connection(hostname=box.host, port=box.port, database=box.db, login=box.login,
                                      password=box.password, protocol="xmlrpc")
        moves = conn.get_model("account.move")
        naive_s = timed(lambda: [moves.create(vals) for vals in naive_vals])

        ceiling_vals = [mappers.move_vals(p, partner) for p in postings(n, employee.odoo_id, tag + "C")]
        ceiling_ids: list[int] = []
        ceiling_s = timed(lambda: [ceiling_ids.extend(client.create("account.move", ceiling_vals[i:i + BATCH]))
                                   for i in range(0, n, BATCH)])
        post_s = timed(lambda: [client.call("account.move", "action_post", ceiling_ids[i:i + BATCH])
                                for i in range(0, n, BATCH)])

        ours = postings(n, employee.odoo_id, tag + "P")
        outcomes: list = []
        connector_s = timed(lambda: [outcomes.extend(post_expenses(client, ours[i:i + BATCH], mode="journal_entry"))
                                     for i in range(0, n, BATCH)])
        posted = sum(1 for o in outcomes if getattr(o, "posted", False))
        found = client.search_count("account.move", [("ref", "in", [p.ref for p in ours])])

    rate = {name: round(n / s, 1) for name, s in
            (("naive", naive_s), ("ceiling", ceiling_s), ("ceiling_post", ceiling_s + post_s), ("connector", connector_s))}
    vs_naive = round(rate["connector"] / rate["naive"], 2)
    vs_ceiling = round(rate["connector"] / rate["ceiling"], 2)
    vs_ceiling_post = round(rate["connector"] / rate["ceiling_post"], 2)
    print(f"Odoo {args.profile} sandbox, realistic latency, {n} vendor bills, batches of {BATCH}")
    print(f"  naive (odoo-client-lib, 1 create per expense) {naive_s:8.2f} s  {rate['naive']:8.1f}/s")
    print(f"  ceiling: raw create, {BATCH} per call          {ceiling_s:8.2f} s  {rate['ceiling']:8.1f}/s")
    print(f"  ceiling: raw create + action_post per {BATCH}   {ceiling_s + post_s:8.2f} s  {rate['ceiling_post']:8.1f}/s")
    print(f"  connector (lookup, create, xmlids, post, read){connector_s:8.2f} s  {rate['connector']:8.1f}/s"
          f"  posted {posted}/{n}, found by ref {found}")
    print(f"  connector / naive = {vs_naive}x (target >= 5)")
    print(f"  connector / ceiling (create only) = {vs_ceiling}x; / ceiling (create + post) = {vs_ceiling_post}x"
          " (target >= 0.8)")
    figures = {
        "odoo posting vs naive one-call-per-expense": {
            "value": rate["connector"], "unit": "bills/s", "baseline": rate["naive"], "baseline_unit": "bills/s",
            "ratio": vs_naive, "note": "target >= 5x"},
        "odoo posting vs raw create+post ceiling (100/call)": {
            "value": rate["connector"], "unit": "bills/s", "baseline": rate["ceiling_post"],
            "baseline_unit": "bills/s", "ratio": vs_ceiling_post, "note": "target >= 0.8x"},
        "odoo posting vs raw create-only ceiling (100/call)": {
            "value": rate["connector"], "unit": "bills/s", "baseline": rate["ceiling"], "baseline_unit": "bills/s",
            "ratio": vs_ceiling, "note": "drafts only: no posting, no lookups"},
        "odoo bills posted / found by reference": {"value": posted, "unit": "", "baseline": found,
                                                   "baseline_unit": "", "ratio": None, "note": f"of {n}"},
    }
    print(json.dumps(figures))
    return 0 if posted == n == found else 1


if __name__ == "__main__":
    sys.exit(main())
