"""The demo's steps, in order, with Django set up on the demo's own directory (see ``run.py``).

migrate → seed → sandbox → Odoo system and sync windows → web, workers, beat → master data
imported and employees exported by the workers → traffic over the API → postings in batch
windows → read-back and reconciliation by the workers → summary.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.core.management import call_command
from django.db import connections, transaction

from controlplane.api.tokens import api_token_issue
from controlplane.connections.models import Binding, ExternalSystem
from controlplane.core.actors import Actor
from controlplane.demo import odoo_setup
from controlplane.demo.client import ApiClient
from controlplane.demo.run import env_int
from controlplane.demo.seed import PAYROLL_CODE, PLATFORM_CODE, seed_organisation
from controlplane.demo.stack import Stack, free_port
from controlplane.demo.summary import summary, wait_postings
from controlplane.demo.traffic import EntityInfo, Traffic
from controlplane.masterdata import models as md

PLATFORM_SCOPES = ["expenses:read", "expenses:write", "approvals:write", "finance:write"]
PAYROLL_SCOPES = ["expenses:read", "payments:write"]


def issue_token(*, actor: Actor, code: str, scopes: list[str], name: str) -> str:
    """A new API token for system ``code`` over every legal entity (the clear value, shown once)."""
    system = ExternalSystem.objects.get(code=code)
    _token, clear = api_token_issue(actor=actor, system=system, scopes=scopes,
                                    legal_entities=md.LegalEntity.objects.all(), name=name)
    return clear


def entity_infos(system: ExternalSystem) -> dict[str, EntityInfo]:
    """What the platform needs per entity; which project and taxes Odoo knows decides whether
    lines allocate to a project and carry tax."""
    bound = {(m, o) for m, o in Binding.objects.filter(system=system).values_list("external_model", "object_id")}
    infos = {}
    for entity in md.LegalEntity.objects.select_related("base_currency").order_by("code"):
        p = entity.code[:2]
        project = next((pr.code for pr in md.Project.objects.filter(legal_entity=entity).order_by("code")
                        if pr.analytic_account_id and ("account.analytic.account", str(pr.analytic_account_id)) in bound),
                       None)
        taxes = set(md.CategoryAccounting.objects.filter(legal_entity=entity, default_tax__isnull=False)
                    .values_list("default_tax_id", flat=True))
        send_tax = all(("account.tax", str(t)) in bound for t in taxes)
        infos[entity.code] = EntityInfo(
            code=entity.code, currency=entity.base_currency.code,
            submitters=(f"{p}-EMP1", f"{p}-EMP2", f"{p}-MGR"), approvers=(f"{p}-MGR", f"{p}-VP", f"{p}-CEO"),
            finance=f"{p}-FIN", project=project, send_tax=send_tax)
    return infos


class Scenario:
    def __init__(self, *, var_dir: Path, count: int, log=print, sandbox_latency: str | None = None,
                 workers: int | None = None) -> None:
        self.var_dir, self.count, self.log = var_dir, count, log
        self.actor = Actor(reason="demo")
        self.platform_token = self.payroll_token = ""
        self.stack = Stack(var_dir=var_dir, web_port=free_port(), workers=workers or env_int("DEMO_WORKERS", 2),
                           concurrency=env_int("DEMO_CONCURRENCY", 2),
                           sandbox=not odoo_setup.real_odoo(),
                           sandbox_latency=sandbox_latency or os.environ.get("DEMO_SANDBOX_LATENCY", "none"))
        self.traffic: Traffic | None = None

    def setup(self) -> ExternalSystem:
        call_command("migrate", interactive=False, verbosity=0)
        seed_organisation()
        if self.stack.sandbox:
            odoo = self.stack.start_sandbox()
            self.log(f"odoo sandbox at {odoo.url} (latency {self.stack.sandbox_latency})")
        system = odoo_setup.odoo_configure(actor=self.actor, sandbox=self.stack.odoo)
        mode = os.environ.get("DEMO_POSTING_MODE", "seed")
        if mode != "seed":
            # DEMO_POSTING_MODE=expense|journal_entry: every entity posts that way (the seed has
            # US01 on Odoo expenses and FR01 on journal entries).
            changed = odoo_setup.posting_mode_set(actor=self.actor, mode=mode)
            if changed:
                self.log(f"posting mode {mode} for {', '.join(changed)} (DEMO_POSTING_MODE=seed keeps the seed's)")
        odoo_setup.sync_windows(actor=self.actor, post_every_s=env_int("DEMO_POST_WINDOW_S", 5),
                                readback_every_s=env_int("DEMO_READBACK_WINDOW_S", 15))
        return system

    def start(self) -> ExternalSystem:
        """Everything before the traffic: database, seed, Odoo, tokens, processes, Odoo bootstrap."""
        system = self.setup()
        with transaction.atomic():
            self.platform_token = issue_token(actor=self.actor, code=PLATFORM_CODE, scopes=PLATFORM_SCOPES,
                                              name="demo")
            self.payroll_token = issue_token(actor=self.actor, code=PAYROLL_CODE, scopes=PAYROLL_SCOPES, name="demo")
        connections.close_all()
        self.stack.start()
        self.stack.supervise(log=self.log)
        self.log(f"stack up: web {self.stack.web_url}, {self.stack.workers} worker process(es), beat")
        odoo_setup.bootstrap(actor=self.actor, system=system, log=self.log)
        return system

    def run(self) -> dict:
        started = time.monotonic()
        system = self.start()
        url = self.stack.web_url
        self.traffic = traffic = Traffic(
            platform=ApiClient(url, self.platform_token), payroll=ApiClient(url, self.payroll_token),
            org=entity_infos(system), count=self.count, seed=env_int("DEMO_SEED", 7),
            clients=env_int("DEMO_CLIENTS", 6), run_id=f"demo{int(time.time())}", log=self.log)
        traffic.submit_all()
        traffic.amend_and_withdraw()
        traffic.approve_until_done()
        traffic.finance_review_all()
        paid_early = traffic.pay(share=0.4)
        self.log(f"payroll: {paid_early} reimbursed before their posting")
        progress = wait_postings(timeout=env_int("DEMO_TIMEOUT_S", 900), log=self.log)
        paid_late = traffic.pay(share=0.5)
        self.log(f"payroll: {paid_late} reimbursed after posting")
        self.readback_and_reconcile(system)
        result = summary(tracked=traffic.expenses, system=system, elapsed_s=time.monotonic() - started,
                         extra={"api_calls": traffic.platform.calls + traffic.payroll.calls,
                                "postings_waiting": progress["waiting"]})
        self.log(f"traffic: {dict(sorted(traffic.stats.items()))}")
        return result

    def readback_and_reconcile(self, system: ExternalSystem) -> None:
        """The workers read back what Odoo holds, then reconcile it with what we posted."""
        from controlplane.odoo.models import ReconciliationRun
        from controlplane.odoo.tasks import reconciliation_run_task
        from controlplane.sync.relay import batch_window
        from controlplane.sync.services import outbox_enqueue

        self.wait_payments()
        with transaction.atomic():
            job = outbox_enqueue(actor=self.actor, target=system, operation=odoo_setup.READBACK, subject=None,
                                 payload={}, idempotency_key=f"{odoo_setup.READBACK}:demo:{time.time()}")
        batch_window(odoo_setup.READBACK)
        try:
            odoo_setup.wait_jobs([job.pk], timeout=300)
        except TimeoutError as exc:
            self.log(f"read-back: {exc}")
        job.refresh_from_db()
        self.log(f"read-back: {job.state} {job.response_summary}")
        before = ReconciliationRun.objects.count()
        reconciliation_run_task.apply_async(args=[system.pk], queue="odoo")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            run = ReconciliationRun.objects.order_by("-pk").first()
            if ReconciliationRun.objects.count() > before and run.status not in ("running", ""):
                self.log(f"reconciliation #{run.pk}: {run.status}, checked {run.checked}, {run.counts}")
                return
            time.sleep(1)
        self.log("reconciliation: no finished run within 300s")

    def wait_payments(self) -> None:
        """The workers register in Odoo the reimbursements of posted expenses (odoo.register_payment)."""
        from controlplane.sync.models import OutboxJob
        from controlplane.sync.relay import batch_window

        batch_window(odoo_setup.PAY)
        ids = list(OutboxJob.objects.filter(operation=odoo_setup.PAY).values_list("pk", flat=True))
        try:
            self.log(f"payments in Odoo: {odoo_setup.wait_jobs(ids, timeout=300)}")
        except TimeoutError as exc:
            self.log(f"payments in Odoo: {exc}")

    def stop(self) -> None:
        self.stack.stop()
        if self.stack.restarts:
            self.log(f"processes restarted during the run: {self.stack.restarts}")
        self.log("stack stopped")
