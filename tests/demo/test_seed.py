"""The demo seed: idempotent, and shaped so expenses can route and post."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import call_command

from controlplane.api.models import ApiToken
from controlplane.approvals.models import ApprovalPolicy
from controlplane.connections.models import MappingKind, ValueMapping
from controlplane.demo.seed import ODOO_CATEGORY_MAP, seed_organisation
from controlplane.masterdata.models import Employee

pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()}


def test_seed_twice_changes_nothing_the_second_time():
    # given a seeded organisation
    seed_organisation()
    before = _row_counts()
    # when it is seeded again
    seed_organisation()
    # then no table (history tables included) has a row more or less
    after = _row_counts()
    assert {k: (before[k], after[k]) for k in before if before[k] != after[k]} == {}


def test_seed_has_policies_finance_reviewers_and_odoo_category_mappings():
    # when the organisation is seeded
    seed_organisation()
    # then each entity routes by amount, has a finance reviewer outside the approval chain,
    # and our categories are mapped to Odoo's expense products (LODGING left unmapped on purpose)
    assert ApprovalPolicy.objects.filter(legal_entity__code__in=["US01", "FR01"]).count() == 2
    assert all(p.rules.count() == 3 for p in ApprovalPolicy.objects.all())
    fin = Employee.objects.get(code="US-FIN")
    assert fin.manager.code == "US-CEO" and not fin.reports.exists()
    mapped = dict(ValueMapping.objects.filter(kind=MappingKind.CATEGORY).values_list("external_code", "canonical_code"))
    assert mapped == ODOO_CATEGORY_MAP
    assert "LODGING" not in mapped.values()


def test_seed_demo_command_issues_the_platform_token_once(capsys):
    # given the command ran once
    call_command("seed_demo")
    first = capsys.readouterr().out
    # when it runs again
    call_command("seed_demo")
    second = capsys.readouterr().out
    # then the token was shown the first time only, and one token exists
    assert "shown once" in first and "cpt_" in first
    assert "already issued" in second and "cpt_" not in second.split("already issued")[0][-5:]
    assert ApiToken.objects.filter(system__code="expenses-app").count() == 1
