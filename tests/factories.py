"""factory_boy factories for master data and integration configuration."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from controlplane.connections import models as cm
from controlplane.masterdata import models as md


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-for-tests-only")


class CurrencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.Currency
        django_get_or_create = ("code",)

    code = "EUR"
    name = factory.LazyAttribute(lambda o: o.code)
    minor_units = 2


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.ExchangeRate

    from_currency = factory.SubFactory(CurrencyFactory, code="USD")
    to_currency = factory.SubFactory(CurrencyFactory, code="EUR")
    date = factory.LazyFunction(dt.date.today)
    rate = Decimal("0.92")
    source = "test"


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.LegalEntity
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"LE{n}")
    name = factory.LazyAttribute(lambda o: f"Entity {o.code}")
    base_currency = factory.SubFactory(CurrencyFactory)
    country = "FR"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.Department

    legal_entity = factory.SubFactory(LegalEntityFactory)
    code = factory.Sequence(lambda n: f"D{n}")
    name = factory.LazyAttribute(lambda o: f"Department {o.code}")


class CostCentreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.CostCentre

    legal_entity = factory.SubFactory(LegalEntityFactory)
    code = factory.Sequence(lambda n: f"CC{n}")
    name = factory.LazyAttribute(lambda o: f"Cost centre {o.code}")


class EmployeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.Employee

    legal_entity = factory.SubFactory(LegalEntityFactory)
    code = factory.Sequence(lambda n: f"E{n:05d}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    email = factory.LazyAttribute(lambda o: f"{o.code.lower()}@example.com")
    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..code"))


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.Project

    legal_entity = factory.SubFactory(LegalEntityFactory)
    code = factory.Sequence(lambda n: f"P{n}")
    name = factory.LazyAttribute(lambda o: f"Project {o.code}")


class GLAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.GLAccount

    legal_entity = factory.SubFactory(LegalEntityFactory)
    code = factory.Sequence(lambda n: f"6{n:05d}")
    name = "Expenses"


class AnalyticAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.AnalyticAccount

    legal_entity = factory.SubFactory(LegalEntityFactory)
    code = factory.Sequence(lambda n: f"AA{n}")
    name = factory.LazyAttribute(lambda o: f"Analytic {o.code}")


class TaxCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.TaxCode

    legal_entity = factory.SubFactory(LegalEntityFactory)
    code = factory.Sequence(lambda n: f"T{n}")
    name = "VAT"
    rate = Decimal("20")
    price_included = True


class ExpenseCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.ExpenseCategory
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"CAT{n}")
    name = factory.LazyAttribute(lambda o: f"Category {o.code}")


class CategoryAccountingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = md.CategoryAccounting

    category = factory.SubFactory(ExpenseCategoryFactory)
    legal_entity = factory.SubFactory(LegalEntityFactory)
    gl_account = factory.SubFactory(GLAccountFactory, legal_entity=factory.SelfAttribute("..legal_entity"))
    default_tax = factory.SubFactory(TaxCodeFactory, legal_entity=factory.SelfAttribute("..legal_entity"))
    receipt_threshold = Decimal("25.00")
    cap_amount = Decimal("500.00")


class ExternalSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.ExternalSystem
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"system-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    kind = cm.SystemKind.EXPENSE_PLATFORM


class OwnershipRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.OwnershipRule

    object_kind = "employee"
    owner = factory.SubFactory(ExternalSystemFactory, kind=cm.SystemKind.HR)
