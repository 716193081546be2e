"""The given of the fault-injection test: an organisation lined up with the Odoo sandbox, and
expenses queued for posting, each with its one ``odoo.post_expense`` outbox job, as in
production.

Two ways to the same rows: a sample goes through the lifecycle services one by one (upsert →
submit → manager approval → finance review), the rest set-at-a-time by
:func:`queued_expenses_bulk` — created by the production bulk ingest, moved by the model's own
transitions, the job enqueued by the production ``enqueue_posting`` — because the single
services take ~0.1 s of CPU per expense and 2,000 of them would take most of the test's few
minutes. What the bulk path leaves out is what posting never reads: policy-check
results, the approval chain and the lifecycle's domain events. :func:`reviewed_expenses`
asserts that both ways yield the same posting state and the same job.

Everything here runs in the test process before the workers start; it is the posting path
under crashes that the test proves, so the setup is deliberately fault-free.
"""

from __future__ import annotations

import datetime as dt
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from controlplane.connections.models import Binding, ExternalSystem, OwnershipRule, SystemKind
from controlplane.core.actors import Actor, acting
from controlplane.masterdata import models as md
from tests import factories as f

ACCOUNTING = ("gl_account", "analytic_account", "tax_code", "currency", "exchange_rate", "expense_category",
              "category_accounting")
TAX_PURCHASE_INCLUDED = "3"  # the sandbox's "15% (incl.)": bills total exactly what the expense says
EMPLOYEES = 6


@dataclass
class ChaosOrg:
    system: ExternalSystem
    source: ExternalSystem
    entity: md.LegalEntity
    category: md.ExpenseCategory
    tax: md.TaxCode
    manager: md.Employee
    employees: list[md.Employee]
    finance_user: object


def chaos_org(box, *, mode: str, worker: Actor) -> ChaosOrg:
    """The sandbox's company as legal entity ``US01`` posting in ``mode``, an ``odoo`` system
    bound to ``box`` (system of record for accounting master data, imported now), a manager
    with employees (exported to Odoo now) and a finance reviewer."""
    from controlplane.odoo.exports import odoo_export_employees
    from controlplane.odoo.imports import odoo_import_masterdata

    entity = f.LegalEntityFactory(code="US01", name="My Company", base_currency=f.CurrencyFactory(code="USD"),
                                  country="US", posting_mode=mode)
    system = ExternalSystem(code="odoo", name="Odoo (chaos)", kind=SystemKind.ODOO, protocol="xmlrpc",
                            endpoint=box.url, database=box.db, max_in_flight=12, timeout_seconds=Decimal("10"))
    system.set_credentials({"login": box.login, "password": box.password, "api_key": box.api_key})
    system.save()
    system.legal_entities.add(entity)
    for kind in ACCOUNTING:
        OwnershipRule.objects.update_or_create(object_kind=kind, field_group="", stage="", defaults={"owner": system})
    odoo_import_masterdata(actor=worker, system=system)
    category = md.ExpenseCategory.objects.get(code="FOOD")
    tax = md.TaxCode.objects.get(pk=Binding.objects.get(system=system, external_model="account.tax",
                                                        external_id=TAX_PURCHASE_INCLUDED).object_id)
    manager = f.EmployeeFactory(legal_entity=entity, code="MGR", email="chaos-mgr@corp.example")
    employees = [f.EmployeeFactory(legal_entity=entity, code=f"EMP{i}", manager=manager,
                                   email=f"chaos-emp{i}@corp.example") for i in range(EMPLOYEES)]
    exported = odoo_export_employees(actor=worker, system=system, employees=[manager, *employees])
    assert not [o.error for o in exported if o.error]
    finance_user = get_user_model().objects.create_user("chaos-finance", "chaos-fin@corp.example")
    source = f.ExternalSystemFactory(code="expenses-app", kind=SystemKind.EXPENSE_PLATFORM)
    return ChaosOrg(system=system, source=source, entity=entity, category=category, tax=tax, manager=manager,
                    employees=employees, finance_user=finance_user)


def expense_input(org: ChaosOrg, i: int, rng: random.Random) -> dict:
    """What the source sends for expense ``i``: one line, every fourth two (distinct merchants
    and amounts, so no duplicate-line flags)."""
    today = dt.date.today()
    lines = [{"date": (today - dt.timedelta(days=1 + (i + n) % 20)).isoformat(), "category": org.category.code,
              "merchant": f"Bistro {i}-{n}", "amount": str(Decimal(rng.randint(500, 40_000)) / 100),
              "tax_code": org.tax.code}
             for n in range(2 if i % 4 == 3 else 1)]
    return {"employee": org.employees[i % len(org.employees)].code, "legal_entity": org.entity.code,
            "currency": "USD", "purpose": f"Chaos client dinner {i}", "lines": lines}


def review_one(org: ChaosOrg, i: int, data: dict) -> int:
    """Source upsert → submit → manager approval → finance review (which queues the posting)."""
    from controlplane.expenses.services import (
        approval_decide,
        expense_finance_review,
        expense_submit,
        expense_upsert_from_source,
    )

    source = Actor(system=org.source, reason="chaos source")
    expense, _ = expense_upsert_from_source(actor=source, source_system=org.source, source_id=f"CHAOS-{i:05d}",
                                            data=data)
    expense_submit(actor=source, expense_id=expense.pk)
    approval_decide(actor=Actor(user=org.manager.user, reason="chaos approval"), expense_id=expense.pk,
                    approver=org.manager, decision="approve")
    expense_finance_review(actor=Actor(user=org.finance_user, reason="chaos finance review"), expense_id=expense.pk,
                           reviewer=org.finance_user)
    return expense.pk


def queued_expenses_bulk(org: ChaosOrg, inputs: list[tuple[int, dict]], *, chunk: int = 250) -> list[int]:
    """Expenses ``inputs`` created and taken to ``finance_reviewed`` / posting queued, with
    their posting jobs: what :func:`review_one` leaves behind, set-at-a-time. They are created
    by the production bulk ingest (``expenses_create_many``: the rows N calls of
    ``expense_upsert_from_source`` would write), moved by the model's own transitions (their
    guards hold) and saved in one statement per chunk with a history row each, and each job is
    enqueued by the production ``enqueue_posting`` (idempotency key, payload, target)."""
    from controlplane.expenses.bulk import bulk_save_with_history
    from controlplane.expenses.ingest_bulk import CREATED, expenses_create_many
    from controlplane.expenses.models import Expense
    from controlplane.expenses.workflow import enqueue_posting

    source = Actor(system=org.source, reason="chaos source (bulk)")
    reviewer = Actor(user=org.finance_user, reason="chaos review (bulk): submitted, approved, finance reviewed")
    ids: list[int] = []
    for start in range(0, len(inputs), chunk):
        part = inputs[start:start + chunk]
        results = expenses_create_many(actor=source, source_system=org.source,
                                       items=[{"source_id": f"CHAOS-{i:05d}", **data} for i, data in part])
        assert [r.status for r in results] == [CREATED] * len(part), [r.error for r in results if r.error][:3]
        with transaction.atomic(), acting(reviewer, reviewer.reason):
            expenses = list(Expense.objects.select_for_update().filter(pk__in=[r.expense.pk for r in results])
                            .select_related("legal_entity").order_by("pk"))
            for expense in expenses:
                expense.submit()
                expense.approve()
                expense.finance_review(org.finance_user, None)
                expense.queue_posting()
            bulk_save_with_history(Expense, expenses)
            for expense in expenses:
                enqueue_posting(reviewer, expense)
        ids += [e.pk for e in expenses]
    return ids


def posting_shape(expense, job) -> tuple:
    """What posting reads of a queued expense and its job, without the identities."""
    return (expense.approval_state, expense.posting_state, expense.payment_state, expense.posting_revision,
            expense.revision, expense.finance_reviewed_by_id, expense.legal_entity_id, expense.currency_id,
            job.operation, job.target_id, job.queue, job.state, job.attempts, job.content_type_id,
            job.object_id == str(expense.pk), tuple(sorted(job.payload)),
            job.payload["reference"] == expense.posting_reference,
            job.idempotency_key == f"{job.operation}:{expense.pk}:r{expense.posting_revision}")


def reviewed_expenses(org: ChaosOrg, count: int, *, through_services: int = 100, threads: int = 4,
                      seed: int = 2026) -> list[int]:
    """``count`` expenses queued for posting: the first ``through_services`` taken to
    ``finance_reviewed`` through the services on ``threads`` database connections (each
    expense in its own transactions, as separate requests would), the rest by
    :func:`queued_expenses_bulk`; asserts both yield the same posting shape."""
    from controlplane.expenses.models import Expense
    from controlplane.sync.models import OutboxJob

    rng = random.Random(seed)
    inputs = [(i, expense_input(org, i, rng)) for i in range(count)]
    sample, rest = inputs[:through_services], inputs[through_services:]

    def work(chunk):
        try:
            return [review_one(org, i, data) for i, data in chunk]
        finally:
            connection.close()  # this thread's connection; the test database is dropped later

    chunks = [sample[k::threads] for k in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        lifecycle = sorted(pk for ids in pool.map(work, chunks) for pk in ids)
    bulk = queued_expenses_bulk(org, rest)

    jobs = {int(j.object_id): j for j in OutboxJob.objects.filter(operation="odoo.post_expense")}
    shapes = {pk: posting_shape(e, jobs[pk]) for pk, e in Expense.objects.in_bulk(lifecycle + bulk).items()}
    from_services = {shapes[pk] for pk in lifecycle}
    from_bulk = {shapes[pk] for pk in bulk}
    assert len(from_services) == 1 and (not bulk or from_bulk == from_services), (from_services, from_bulk)
    return sorted(lifecycle + bulk)
