"""Seed a demo organisation: two legal entities in different currencies, departments, a
manager hierarchy, projects, categories with per-entity accounting, taxes, rates, approval
policies with amount thresholds, the integration systems (with the value mappings that line
our categories up with Odoo's expense products) and staff logins for each role.
Idempotent: running it twice changes nothing the second time.

Categories and Odoo products: MEALS ← ``FOOD``, TRAVEL ← ``TRANS & ACC``, OFFICE ← ``EXP_GEN``
(the products every Odoo 17 with ``hr_expense`` has, and the sandbox's seed). LODGING has no
mapping on purpose: an expense in it cannot post until someone maps it (the demo's planted
missing mapping)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from controlplane.approvals.models import ApprovalPolicy, ApprovalRule, ApprovalRuleStep, StepKind
from controlplane.connections.models import ExternalSystem, MappingKind, OwnershipRule, SystemKind, ValueMapping
from controlplane.core.actors import Actor, acting
from controlplane.core.roles import (
    APPROVER,
    AUDITOR,
    FINANCE_REVIEWER,
    INTEGRATION_ADMIN,
    PAYMENT_OFFICER,
)
from controlplane.masterdata import models as md

DEMO_PASSWORD = "demo-pass-1234"
PLATFORM_CODE = "expenses-app"
PAYROLL_CODE = "payroll"
# Odoo expense product (default_code) → our category code.
ODOO_CATEGORY_MAP = {"FOOD": "MEALS", "TRANS & ACC": "TRAVEL", "EXP_GEN": "OFFICE"}

STAFF = {
    "admin": (None, "Superuser (everything)"),
    "finops": (FINANCE_REVIEWER, "Finance operations / reviewer"),
    "payments": (PAYMENT_OFFICER, "Payment officer"),
    "integrator": (INTEGRATION_ADMIN, "Integration administrator"),
    "auditor": (AUDITOR, "Auditor (read-only)"),
}


def _get(model, lookup, **values):
    """The row found by ``lookup``, created or brought up to ``values``; saved only when
    something differs, so a second run adds no history rows."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values)
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save()
    return obj


@transaction.atomic
def seed_organisation() -> dict[str, str]:
    """Create (or bring up to date) the demo organisation; returns login → role."""
    with acting(Actor(reason="demo seed")):
        usd = _get(md.Currency, {"code": "USD"}, name="US dollar", minor_units=2)
        eur = _get(md.Currency, {"code": "EUR"}, name="Euro", minor_units=2)
        today = dt.date.today()
        for days in range(0, 140, 7):
            _get(md.ExchangeRate, {"from_currency": eur, "to_currency": usd, "date": today - dt.timedelta(days=days)},
                 rate=Decimal("1.0870"), source="demo")
            _get(md.ExchangeRate, {"from_currency": usd, "to_currency": eur, "date": today - dt.timedelta(days=days)},
                 rate=Decimal("0.9200"), source="demo")
        us = _get(md.LegalEntity, {"code": "US01"}, name="Acme Inc.", base_currency=usd, country="US")
        fr = _get(md.LegalEntity, {"code": "FR01"}, name="Acme SAS", base_currency=eur, country="FR",
                  posting_mode=md.LegalEntity.PostingMode.JOURNAL_ENTRY)
        users = {}
        admin, created = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        for login, (role, _label) in STAFF.items():
            if role is None:
                continue
            user, created = get_user_model().objects.get_or_create(username=login, defaults={"is_staff": True})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            user.groups.add(Group.objects.get(name=role))
            users[login] = role
        for entity, prefix in ((us, "us"), (fr, "fr")):
            _seed_entity(entity, prefix)
        # Created once; the endpoint is then the stack's (sandbox port) or the environment's (real Odoo).
        odoo = ExternalSystem.objects.filter(code="odoo").first() or ExternalSystem.objects.create(
            code="odoo", name="Odoo", kind=SystemKind.ODOO, protocol="xmlrpc",
            endpoint="http://127.0.0.1:8069", database="sandbox")
        if not odoo.credentials:
            odoo.set_credentials({"login": "admin", "password": "admin"})
            odoo.save()
        platform = _get(ExternalSystem, {"code": PLATFORM_CODE}, name="Expense platform",
                        kind=SystemKind.EXPENSE_PLATFORM)
        hr = _get(ExternalSystem, {"code": "hr"}, name="HR system", kind=SystemKind.HR)
        payroll = _get(ExternalSystem, {"code": PAYROLL_CODE}, name="Payroll", kind=SystemKind.PAYROLL)
        for system in (odoo, platform, hr, payroll):
            system.legal_entities.set([us, fr])
        for kind in ("employee", "department", "cost_centre"):
            _get(OwnershipRule, {"object_kind": kind, "field_group": "", "stage": ""}, owner=hr)
        for kind in ("gl_account", "analytic_account", "tax_code", "currency", "exchange_rate"):
            _get(OwnershipRule, {"object_kind": kind, "field_group": "", "stage": ""}, owner=odoo)
        _get(OwnershipRule, {"object_kind": "expense", "field_group": "", "stage": "payment"}, owner=payroll)
        _get(OwnershipRule, {"object_kind": "expense", "field_group": "", "stage": "posting"}, owner=odoo)
        for external, canonical in ODOO_CATEGORY_MAP.items():
            _get(ValueMapping, {"system": odoo, "kind": MappingKind.CATEGORY, "legal_entity": None,
                                "external_code": external, "valid_from": dt.date(2000, 1, 1)},
                 canonical_code=canonical)
    return users


def _seed_entity(entity: md.LegalEntity, prefix: str) -> None:
    gl = _get(md.GLAccount, {"legal_entity": entity, "code": "600000"}, name="Travel and expenses",
              account_type="expense")
    vat = _get(md.TaxCode, {"legal_entity": entity, "code": f"{prefix.upper()}-VAT"},
               name="Purchase tax", rate=Decimal("15") if prefix == "us" else Decimal("20"), price_included=True)
    analytic = {
        code: _get(md.AnalyticAccount, {"legal_entity": entity, "code": f"{prefix}-{code}"}, name=name, plan="Projects")
        for code, name in (("apollo", "Apollo"), ("gemini", "Gemini"))
    }
    people = {}
    chain = [("ceo", "Cora", "Chief", None), ("vp", "Vince", "President", "ceo"), ("mgr", "Mona", "Manager", "vp"),
             ("emp1", "Eli", "Employee", "mgr"), ("emp2", "Erin", "Engineer", "mgr"),
             ("fin", "Fiona", "Finance", "ceo")]
    user_model = get_user_model()
    for code, first, last, manager in chain:
        login = f"{prefix}-{code}"
        user, created = user_model.objects.get_or_create(username=login, defaults={"is_staff": False})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = code == "fin"
            user.save()
            user.groups.add(Group.objects.get(name=FINANCE_REVIEWER if code == "fin" else APPROVER))
        people[code] = _get(md.Employee, {"legal_entity": entity, "code": f"{prefix.upper()}-{code.upper()}"},
                            first_name=first, last_name=f"{last} ({prefix.upper()})", email=f"{login}@demo.example",
                            manager=people.get(manager) if manager else None, user=user)
    sales = _get(md.Department, {"legal_entity": entity, "code": "SALES"}, name="Sales", head=people["vp"])
    eng = _get(md.Department, {"legal_entity": entity, "code": "ENG"}, name="Engineering", head=people["mgr"])
    cc = _get(md.CostCentre, {"legal_entity": entity, "code": "CC100"}, name="Operations", owner=people["vp"])
    for code in ("mgr", "emp1", "emp2"):
        people[code] = _get(md.Employee, {"pk": people[code].pk}, department=eng if code != "emp2" else sales,
                            cost_centre=cc)
    for code, a in analytic.items():
        _get(md.Project, {"legal_entity": entity, "code": code.upper()}, name=code.title(), owner=people["vp"],
             analytic_account=a)
    for code, name, threshold, cap in (("MEALS", "Meals", "25", "150"), ("TRAVEL", "Travel", "0", "2500"),
                                       ("LODGING", "Lodging", "0", "400"), ("OFFICE", "Office supplies", "50", "300")):
        cat = _get(md.ExpenseCategory, {"code": code}, name=name)
        _get(md.CategoryAccounting, {"category": cat, "legal_entity": entity}, gl_account=gl, default_tax=vat,
             receipt_threshold=Decimal(threshold), cap_amount=Decimal(cap))
    _seed_policy(entity, people)


def _seed_policy(entity: md.LegalEntity, people: dict[str, md.Employee]) -> None:
    """Amounts in the entity's base currency: below 500 the manager decides; from 500 two levels
    of the manager chain; from 2,000 the manager and the CEO (a manager's own large expense then
    goes to the VP and the CEO: two levels there would leave nobody for the CEO's step)."""
    policy = _get(ApprovalPolicy, {"legal_entity": entity}, name=f"{entity.code} expense approvals",
                  default_sla_hours=48)
    tiers = (
        (10, "Up to 500: manager", None, Decimal("500"), [(StepKind.MANAGER, 1, None)]),
        (20, "500 to 2,000: two levels", Decimal("500"), Decimal("2000"), [(StepKind.MANAGER_CHAIN, 2, None)]),
        (30, "From 2,000: the manager and the CEO", Decimal("2000"), None,
         [(StepKind.MANAGER, 1, None), (StepKind.EMPLOYEE, 1, people["ceo"])]),
    )
    for order, name, low, high, steps in tiers:
        rule = _get(ApprovalRule, {"policy": policy, "name": name}, order=order, min_amount=low, max_amount=high,
                    stop_processing=True)
        for n, (kind, levels, employee) in enumerate(steps, 1):
            _get(ApprovalRuleStep, {"rule": rule, "order": n * 10}, kind=kind, levels=levels, employee=employee)
