"""Factories for expenses and approvals: a small organisation ("world") and helpers that
create expenses through the services, as a source system would."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from controlplane.approvals import models as am
from controlplane.connections.models import SystemKind
from controlplane.core.actors import Actor
from tests import factories as f


@dataclass
class World:
    """EUR-based entity ``LE`` with a USD rate, a manager chain ceo → vp → mgr → emp (and
    emp2), a department headed by vp, a cost centre owned by vp, a project owned by mgr,
    categories MEALS (receipt above 25, cap 150) and TRAVEL (receipt above 0, cap 2500)."""

    entity: object
    other_entity: object
    eur: object
    usd: object
    source: object
    other_source: object
    odoo: object
    people: dict
    department: object
    cost_centre: object
    project: object
    categories: dict
    tax: object
    foreign_tax: object
    finance: object
    extra: dict = field(default_factory=dict)

    def actor(self, reason: str = "test") -> Actor:
        return Actor(system=self.source, reason=reason)

    def user_actor(self, who: str, reason: str = "test") -> Actor:
        return Actor(user=self.people[who].user, reason=reason)


def make_world(*, usd_rate: str = "0.9000", rate_date: dt.date | None = None) -> World:
    eur = f.CurrencyFactory(code="EUR")
    usd = f.CurrencyFactory(code="USD")
    entity = f.LegalEntityFactory(code="LE-EU", base_currency=eur)
    other = f.LegalEntityFactory(code="LE-OTHER", base_currency=eur)
    f.ExchangeRateFactory(from_currency=usd, to_currency=eur, date=rate_date or timezone.localdate(),
                          rate=Decimal(usd_rate))
    source = f.ExternalSystemFactory(code="expenses-app", kind=SystemKind.EXPENSE_PLATFORM)
    other_source = f.ExternalSystemFactory(code="travel-tool", kind=SystemKind.EXPENSE_PLATFORM)
    odoo = f.ExternalSystemFactory(code="odoo", kind=SystemKind.ODOO)
    odoo.legal_entities.add(entity)
    people = {}
    for code, manager in (("ceo", None), ("vp", "ceo"), ("mgr", "vp"), ("emp", "mgr"), ("emp2", "mgr"),
                          ("peer", "vp"), ("fin", None), ("pay", None)):
        people[code] = f.EmployeeFactory(legal_entity=entity, code=code.upper(), manager=people.get(manager),
                                         user__username=f"u-{code}")
    department = f.DepartmentFactory(legal_entity=entity, code="ENG", head=people["vp"])
    cost_centre = f.CostCentreFactory(legal_entity=entity, code="CC1", owner=people["vp"])
    for code in ("mgr", "emp", "emp2", "peer"):
        people[code].department = department
        people[code].cost_centre = cost_centre
        people[code].save()
    project = f.ProjectFactory(legal_entity=entity, code="APOLLO", owner=people["mgr"],
                               analytic_account=f.AnalyticAccountFactory(legal_entity=entity, code="AA-APOLLO"))
    tax = f.TaxCodeFactory(legal_entity=entity, code="VAT15", rate=Decimal("15"), price_included=True)
    foreign_tax = f.TaxCodeFactory(legal_entity=other, code="VAT-OTHER", rate=Decimal("10"))
    categories = {}
    for code, threshold, cap in (("MEALS", "25", "150"), ("TRAVEL", "0", "2500")):
        cat = f.ExpenseCategoryFactory(code=code)
        f.CategoryAccountingFactory(category=cat, legal_entity=entity, default_tax=tax,
                                    receipt_threshold=Decimal(threshold), cap_amount=Decimal(cap))
        categories[code] = cat
    categories["UNMAPPED"] = f.ExpenseCategoryFactory(code="UNMAPPED")
    finance, _ = Group.objects.get_or_create(name="finance")
    return World(entity=entity, other_entity=other, eur=eur, usd=usd, source=source, other_source=other_source,
                 odoo=odoo, people=people, department=department, cost_centre=cost_centre, project=project,
                 categories=categories, tax=tax, foreign_tax=foreign_tax, finance=finance)


def line(amount="100.00", *, category="TRAVEL", date=None, merchant="Rail Co", **extra) -> dict:
    data = {"date": date or timezone.localdate(), "category": category, "merchant": merchant, "amount": amount}
    data.update(extra)
    return data


_counter = iter(range(1, 10**9))


def expense_data(world: World, *, employee="EMP", currency="EUR", lines=None, purpose="Client visit") -> dict:
    return {"employee": employee, "legal_entity": world.entity.code, "currency": currency, "purpose": purpose,
            "lines": lines if lines is not None else [line()]}


def make_expense(world: World, *, source_id: str | None = None, submit: bool = False, **kwargs):
    """Create (and optionally submit) an expense through the services, as the source does."""
    from controlplane.expenses.services import expense_submit, expense_upsert_from_source

    expense, _ = expense_upsert_from_source(
        actor=world.actor("created"), source_system=world.source,
        source_id=source_id or f"SRC-{next(_counter)}", data=expense_data(world, **kwargs),
    )
    if submit:
        expense = expense_submit(actor=world.actor("submit"), expense_id=expense.pk)
    return expense


class ApprovalPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = am.ApprovalPolicy

    legal_entity = factory.SubFactory(f.LegalEntityFactory)
    name = factory.LazyAttribute(lambda o: f"Policy {o.legal_entity.code}")
    default_sla_hours = 24


class ApprovalRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = am.ApprovalRule

    policy = factory.SubFactory(ApprovalPolicyFactory)
    name = factory.Sequence(lambda n: f"rule {n}")
    order = factory.Sequence(lambda n: n * 10)


class ApprovalRuleStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = am.ApprovalRuleStep

    rule = factory.SubFactory(ApprovalRuleFactory)
    kind = am.StepKind.MANAGER
    order = factory.Sequence(lambda n: n)


def add_rule(policy, *, steps: list[dict], **conditions):
    """A rule on ``policy`` with ``conditions`` adding ``steps`` (dicts of ApprovalRuleStep fields)."""
    rule = ApprovalRuleFactory(policy=policy, **conditions)
    for i, step in enumerate(steps):
        ApprovalRuleStepFactory(rule=rule, order=i, **step)
    return rule
