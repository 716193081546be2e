"""Effective-dated value mappings, and their CSV round trip."""

from __future__ import annotations

import datetime as dt

import pytest
import tablib

from controlplane.connections.admin import ValueMappingResource
from controlplane.connections.models import MappingKind, ValueMapping
from controlplane.connections.services import mapping_resolve
from tests.factories import ExternalSystemFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def concur():
    return ExternalSystemFactory(code="concur")


def add(system, code, canonical, start, end=None, entity=None):
    return ValueMapping.objects.create(system=system, kind=MappingKind.CATEGORY, external_code=code,
                                       canonical_code=canonical, valid_from=start, valid_to=end, legal_entity=entity)


@pytest.mark.parametrize("on, expected", [
    (D(2025, 12, 31), None), (D(2026, 1, 1), "MEALS"), (D(2026, 6, 30), "MEALS"),
    (D(2026, 7, 1), "FOOD"), (D(2030, 1, 1), "FOOD"),
])
def test_effective_dates(concur, on, expected):
    add(concur, "01", "MEALS", D(2026, 1, 1), D(2026, 7, 1))
    add(concur, "01", "FOOD", D(2026, 7, 1))
    assert mapping_resolve(system=concur, kind=MappingKind.CATEGORY, external_code="01", on=on) == expected


def test_entity_specific_mapping_wins(concur):
    fr = LegalEntityFactory(code="FR")
    add(concur, "01", "MEALS", D(2026, 1, 1))
    add(concur, "01", "REPAS", D(2026, 1, 1), entity=fr)
    assert mapping_resolve(system=concur, kind="category", external_code="01", on=D(2026, 2, 1), legal_entity=fr) == "REPAS"
    assert mapping_resolve(system=concur, kind="category", external_code="01", on=D(2026, 2, 1)) == "MEALS"


def test_csv_export_then_import_round_trip(concur):
    add(concur, "01", "MEALS", D(2026, 1, 1))
    exported = ValueMappingResource().export()
    csv_text = exported.csv
    assert "concur" in csv_text and "MEALS" in csv_text
    # import a changed file: one updated row, one new row
    data = tablib.Dataset().load(csv_text.replace("MEALS", "FOOD") + ",concur,category,,02,TRAVEL,2026-01-01,\r\n", format="csv")
    result = ValueMappingResource().import_data(data, dry_run=False, raise_errors=True)
    assert not result.has_errors()
    assert ValueMapping.objects.get(external_code="01").canonical_code == "FOOD"
    assert ValueMapping.objects.get(external_code="02").canonical_code == "TRAVEL"
