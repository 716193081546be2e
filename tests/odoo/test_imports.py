"""Master-data import from the sandbox: idempotent, incremental, and respectful of ownership."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from controlplane.connections.models import Binding
from controlplane.masterdata import models as md
from controlplane.odoo.imports import odoo_import_masterdata
from controlplane.odoo.models import ImportCursor
from tests.factories import EmployeeFactory, ExternalSystemFactory
from tests.odoo.conftest import own

pytestmark = pytest.mark.django_db(transaction=False)

ODOO_OWNED = ("gl_account", "analytic_account", "tax_code", "currency", "exchange_rate",
              "expense_category", "category_accounting", "department", "vendor")


def created_total(results):
    return sum(counts["created"] + counts["updated"] for counts in results.values())


def test_first_import_creates_master_data_and_binds_the_company(odoo_system, entity, worker):
    # given Odoo owns the accounting master data
    own(odoo_system, *ODOO_OWNED)
    # when importing everything
    results = odoo_import_masterdata(actor=worker, system=odoo_system)
    # then accounts, taxes, products, currencies and rates exist and are bound
    assert results["companies"]["bound"] == 1
    assert md.GLAccount.objects.filter(legal_entity=entity, code="600000").exists()
    bound_taxes = Binding.objects.filter(system=odoo_system, external_model="account.tax")
    assert {b.external_id for b in bound_taxes} >= {"2"}
    assert md.TaxCode.objects.get(pk=bound_taxes.get(external_id="2").object_id).rate == 15
    assert md.ExpenseCategory.objects.filter(code="FOOD", name="Meals").exists()
    assert md.CategoryAccounting.objects.filter(category__code="FOOD", legal_entity=entity).exists()
    assert md.ExchangeRate.objects.get(from_currency__code="USD", to_currency__code="EUR").source == "odoo"
    assert md.AnalyticAccount.objects.filter(legal_entity=entity, name="Sandbox Project").exists()
    company = Binding.objects.get(system=odoo_system, external_model="res.company")
    assert company.data["purchase_journal_id"] == 2
    assert md.Department.objects.filter(legal_entity=entity, name="Administration").exists()


def test_second_import_creates_nothing_and_the_cursor_moves_on_change(odoo_system, entity, worker, rpc):
    # given a first import
    own(odoo_system, *ODOO_OWNED)
    odoo_import_masterdata(actor=worker, system=odoo_system)
    rows_before = md.GLAccount.objects.count() + md.TaxCode.objects.count() + md.ExpenseCategory.objects.count()
    history_before = md.GLAccount.history.count() + Binding.history.count()
    cursor_before = ImportCursor.objects.get(system=odoo_system, kind="accounts").watermark
    # when importing again with nothing changed
    again = odoo_import_masterdata(actor=worker, system=odoo_system)
    # then nothing is created, updated or re-bound, and no history row is written
    assert created_total(again) == 0
    assert all(counts["bound"] == 0 for counts in again.values())
    assert md.GLAccount.objects.count() + md.TaxCode.objects.count() + md.ExpenseCategory.objects.count() == rows_before
    assert md.GLAccount.history.count() + Binding.history.count() == history_before
    # when an account is renamed in Odoo, in a later second than the cursor (write_date has
    # whole seconds, as in Odoo: on a fast machine the first import can end in the same second)
    while timezone.now() < cursor_before + dt.timedelta(seconds=1):
        time.sleep(0.05)
    rpc("account.account", "write", [30], {"name": "Employee expenses"})
    third = odoo_import_masterdata(actor=worker, system=odoo_system, kinds=("accounts",))
    # then only that account is updated and the cursor moves forward
    assert third["accounts"]["updated"] == 1
    assert md.GLAccount.objects.get(legal_entity=entity, code="600000").name == "Employee expenses"
    assert ImportCursor.objects.get(system=odoo_system, kind="accounts").watermark > cursor_before
    assert ImportCursor.history.filter(kind="accounts").count() >= 3


def test_import_does_not_overwrite_what_odoo_does_not_own(odoo_system, entity, worker):
    # given HR owns employees, and one of ours has the email of an Odoo employee
    hr = ExternalSystemFactory(code="hr", kind="hr")
    own(hr, "employee")
    ours = EmployeeFactory(legal_entity=entity, email="demo@example.com", first_name="Dee", last_name="Mo")
    # and nobody gave Odoo the GL accounts (the control plane owns them)
    # when importing
    results = odoo_import_masterdata(actor=worker, system=odoo_system)
    # then the matching employee is bound, not renamed, and no employee is created
    ours.refresh_from_db()
    assert (ours.first_name, ours.last_name) == ("Dee", "Mo")
    assert Binding.objects.get(system=odoo_system, external_model="hr.employee", object_id=str(ours.pk)).external_id == "2"
    assert results["employees"]["skipped_not_owner"] >= 1
    assert md.Employee.objects.count() == 1
    # and accounts are skipped as "not system of record"
    assert results["accounts"]["skipped_not_owner"] >= 1
    assert results["accounts"]["created"] == 0
    assert not md.GLAccount.objects.exists()


def test_a_company_without_a_legal_entity_is_reported_unmatched(odoo_system, worker, rpc):
    # given no legal entity named like the Odoo company
    # when importing companies
    results = odoo_import_masterdata(actor=worker, system=odoo_system, kinds=("companies", "accounts"))
    # then the company is unmatched, with a hint, and its accounts have nowhere to go
    assert results["companies"]["unmatched"] == len(rpc("res.company", "search", []))
    assert "legal_entity" in results["companies"]["errors"][0]
    assert results["accounts"]["unmatched"] > 0


def test_employee_export_is_idempotent(odoo_system, entity, worker, rpc):
    from controlplane.odoo.exports import odoo_export_employees

    # given two employees Odoo does not know, one without a usable email
    alice = EmployeeFactory(legal_entity=entity, first_name="Alice", last_name="Export", email="alice@corp.example")
    # when exporting twice
    first = odoo_export_employees(actor=worker, system=odoo_system, employees=[alice])
    second = odoo_export_employees(actor=worker, system=odoo_system, employees=[alice])
    # then Odoo holds exactly one employee with that email, bound to ours, created once
    assert first[0].created and not second[0].created
    assert first[0].odoo_id == second[0].odoo_id
    assert rpc("hr.employee", "search_count", [("work_email", "=", "alice@corp.example")]) == 1
    binding = Binding.objects.get(system=odoo_system, external_model="hr.employee", object_id=str(alice.pk))
    assert binding.external_id == str(first[0].odoo_id)
    # when the binding is lost, the export finds the same employee again instead of creating one
    binding.delete()
    third = odoo_export_employees(actor=worker, system=odoo_system, employees=[alice])
    assert third[0].odoo_id == first[0].odoo_id and not third[0].created
    assert rpc("hr.employee", "search_count", [("work_email", "=", "alice@corp.example")]) == 1
