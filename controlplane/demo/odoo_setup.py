"""Line the demo organisation up with an Odoo (the bundled sandbox or a real Odoo 17).

The order a finance team would follow on day one:

1. :func:`odoo_configure` — the ``odoo`` system points at the sandbox, or at ``ODOO_URL``... from
   the environment (``odoo_system_from_env``);
2. :func:`companies_map` — each legal entity is mapped to the Odoo company in its base currency
   (value mappings of kind ``legal_entity``; an entity without one posts to Odoo's default company);
3. :func:`bootstrap` — the workers import master data from Odoo (outbox ``odoo.import_masterdata``),
   projects take the imported analytic accounts, and the workers export the employees
   (outbox ``odoo.export_employee``); batch windows are set short for the demo.

Everything remote goes through outbox jobs run by the workers; this module only enqueues, wakes
them and waits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from controlplane.connections.models import Binding, ExternalSystem, MappingKind, ValueMapping
from controlplane.core.actors import Actor, acting
from controlplane.masterdata import models as md
from controlplane.odoo.connection import odoo_client, odoo_system_from_env
from controlplane.sync.models import JobState, OutboxJob, SyncMode
from controlplane.sync.policies import sync_policies_install_defaults, sync_policy_set
from controlplane.sync.relay import batch_window
from controlplane.sync.services import outbox_enqueue

IMPORT = "odoo.import_masterdata"
EXPORT = "odoo.export_employee"
POST = "odoo.post_expense"
READBACK = "odoo.readback"
PAY = "odoo.register_payment"


def real_odoo() -> bool:
    """True when the environment points at a real Odoo (``ODOO_URL``)."""
    import os

    return bool(os.environ.get("ODOO_URL", "").strip())


def odoo_configure(*, actor: Actor, sandbox=None) -> ExternalSystem:
    """The ``odoo`` system, pointed at ``ODOO_*`` when set, else at ``sandbox`` (a running
    :class:`~integrations.odoo.sandbox.testing.SandboxProcess`); it serves every legal entity."""
    system = odoo_system_from_env(actor)
    if system is None:
        if sandbox is None:
            raise RuntimeError("Neither ODOO_URL nor a running sandbox: nothing to post to.")
        with transaction.atomic(), acting(actor, "Odoo: the bundled sandbox"):
            system = ExternalSystem.objects.select_for_update().get(code="odoo")
            creds = {"login": sandbox.login, "password": sandbox.password}
            if (system.endpoint, system.database, system.protocol, system.credential_values()) != \
                    (sandbox.url, sandbox.db, "xmlrpc", creds):
                system.endpoint, system.database, system.protocol = sandbox.url, sandbox.db, "xmlrpc"
                system.set_credentials(creds)
                system.save()
    entities = list(md.LegalEntity.objects.all())
    if set(system.legal_entities.values_list("pk", flat=True)) != {e.pk for e in entities}:
        with acting(actor, "Odoo serves every demo entity"):
            system.legal_entities.set(entities)
    return system


def companies_map(*, actor: Actor, system: ExternalSystem) -> dict[str, int | None]:
    """Map each legal entity to the first Odoo company in its base currency (read over XML-RPC);
    returns entity code → company id (None: no such company, the entity posts to the default one)."""
    rows = odoo_client(system).search_read("res.company", [], ["name", "currency_id"], order="id asc")
    taken: set[int] = set()
    result: dict[str, int | None] = {}
    today = timezone.localdate()
    for entity in md.LegalEntity.objects.select_related("base_currency").order_by("code"):
        existing = ValueMapping.objects.filter(system=system, kind=MappingKind.LEGAL_ENTITY,
                                               canonical_code=entity.code).first()
        if existing is not None:
            result[entity.code] = int(existing.external_code)
            taken.add(int(existing.external_code))
            continue
        match = next((r for r in rows if r["id"] not in taken and isinstance(r.get("currency_id"), list)
                      and r["currency_id"][1] == entity.base_currency.code), None)
        result[entity.code] = match["id"] if match else None
        if match:
            taken.add(match["id"])
            with acting(actor, f"Odoo company {match['name']} is {entity.code}"):
                ValueMapping.objects.create(system=system, kind=MappingKind.LEGAL_ENTITY, external_code=str(match["id"]),
                                            canonical_code=entity.code, valid_from=today - dt.timedelta(days=3650))
    return result


def posting_mode_set(*, actor: Actor, mode: str) -> list[str]:
    """Every legal entity posts in ``mode`` (``expense`` or ``journal_entry``); returns the codes changed."""
    changed = []
    for entity in md.LegalEntity.objects.exclude(posting_mode=mode):
        with acting(actor, f"demo: posting as {mode}"):
            entity.posting_mode = mode
            entity.save()
        changed.append(entity.code)
    return changed


def sync_windows(*, actor: Actor, post_every_s: int, readback_every_s: int) -> None:
    """Install the default sync policies, then shorten the posting, payment and read-back windows."""
    sync_policies_install_defaults(actor=actor)
    sync_policy_set(actor=actor, operation=POST, mode=SyncMode.BATCH, every_seconds=post_every_s,
                    note=f"ledger postings after finance review (demo: every {post_every_s}s)")
    sync_policy_set(actor=actor, operation=READBACK, mode=SyncMode.BATCH, every_seconds=readback_every_s,
                    note=f"read back what Odoo posted and paid (demo: every {readback_every_s}s)")
    sync_policy_set(actor=actor, operation=PAY, mode=SyncMode.BATCH, every_seconds=post_every_s,
                    note=f"reimbursements registered as payments in Odoo (demo: every {post_every_s}s)")


def wait_jobs(job_ids: Iterable[int], *, timeout: float, poll: float = 0.5) -> dict[str, int]:
    """Wait until every job is terminal (succeeded, dead or cancelled); returns counts by state.
    Raises TimeoutError with the states seen when ``timeout`` passes first."""
    ids = list(job_ids)
    deadline = time.monotonic() + timeout
    while True:
        states = list(OutboxJob.objects.filter(pk__in=ids).values_list("state", flat=True))
        counts = {s: states.count(s) for s in set(states)}
        if all(s in JobState.terminal() for s in states):
            return counts
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox jobs not finished after {timeout:.0f}s: {counts}")
        time.sleep(poll)


def import_masterdata(*, actor: Actor, system: ExternalSystem, timeout: float = 300) -> OutboxJob:
    """Enqueue a full master-data import, open its batch window now, wait for the workers."""
    key = f"{IMPORT}:{system.pk}:start:{timezone.now():%Y%m%dT%H%M%S.%f}"
    with transaction.atomic():
        job = outbox_enqueue(actor=actor, target=system, operation=IMPORT, subject=None,
                             payload={"full": True}, idempotency_key=key)
    batch_window(IMPORT)
    wait_jobs([job.pk], timeout=timeout)
    job.refresh_from_db()
    return job


def projects_align(*, actor: Actor, system: ExternalSystem) -> int:
    """Projects whose analytic account Odoo does not know take one Odoo does (the entity's
    imported analytic accounts, in turn); returns how many changed. Without any, they stay."""
    bound = set(Binding.objects.filter(system=system, external_model="account.analytic.account")
                .values_list("object_id", flat=True))
    changed = 0
    for entity in md.LegalEntity.objects.all():
        odoo_accounts = list(md.AnalyticAccount.objects.filter(legal_entity=entity, pk__in=[int(i) for i in bound])
                             .order_by("pk"))
        if not odoo_accounts:
            continue
        projects = md.Project.objects.filter(legal_entity=entity).order_by("code")
        for n, project in enumerate(projects):
            if project.analytic_account_id is not None and str(project.analytic_account_id) in bound:
                continue
            with acting(actor, "demo: project on an analytic account Odoo knows"):
                project.analytic_account = odoo_accounts[n % len(odoo_accounts)]
                project.save()
            changed += 1
    return changed


def export_employees(*, actor: Actor, system: ExternalSystem, timeout: float = 300) -> dict[str, int]:
    """One ``odoo.export_employee`` job per active employee of the entities ``system`` serves
    (keyed per employee: a second run finds them done); waits for the workers."""
    ids = []
    employees = md.Employee.objects.filter(active=True, legal_entity__in=system.legal_entities.all()).order_by("pk")
    for employee in employees:
        with transaction.atomic():
            job = outbox_enqueue(actor=actor, target=system, operation=EXPORT, subject=employee,
                                 payload={"employee_id": employee.pk},
                                 idempotency_key=f"{EXPORT}:{system.pk}:{employee.pk}")
        ids.append(job.pk)
    return wait_jobs(ids, timeout=timeout)


def bootstrap(*, actor: Actor, system: ExternalSystem, log=print, timeout: float = 300) -> dict:
    """Companies mapped, master data imported, projects aligned, employees exported."""
    companies = companies_map(actor=actor, system=system)
    log(f"odoo: companies {companies}")
    job = import_masterdata(actor=actor, system=system, timeout=timeout)
    if job.state != JobState.SUCCEEDED:
        raise RuntimeError(f"the master-data import ended {job.state}: {job.last_error}")
    summary = {k: {n: v for n, v in c.items() if v and n != "errors"} for k, c in (job.response_summary or {}).items()}
    log(f"odoo: master data imported {summary}")
    aligned = projects_align(actor=actor, system=system)
    exported = export_employees(actor=actor, system=system, timeout=timeout)
    log(f"odoo: employees exported {exported}; projects aligned {aligned}")
    return {"companies": companies, "import": summary, "exported": exported}
