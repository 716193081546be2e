"""Master-data import and employee export against the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest

from integrations.errors import PermanentError
from integrations.odoo.binder import InMemoryBinder
from integrations.odoo.client import OdooClient, OdooConfig
from integrations.odoo.employees import export_employees
from integrations.odoo.importer import KINDS, import_all, import_master_data
from integrations.odoo.types import EmployeeExport, EmployeeExportResult

from .conftest import EUR, unique


def test_every_kind_imports_and_maps(sandbox, client):
    batches = import_all(client, page_size=3)  # small pages: paging is exercised
    assert set(batches) == set(KINDS)
    assert {c.currency_code for c in batches["companies"].records} == {"USD"}
    assert {c.code for c in batches["currencies"].records} >= {"USD", "EUR"}
    assert any(r.currency_id == EUR for r in batches["currency_rates"].records)
    assert any(t.type_tax_use == "purchase" and t.amount == 15 for t in batches["taxes"].records)
    assert {"BILL", "BNK1"} <= {j.code for j in batches["journals"].records}
    assert any(a.code == "600000" for a in batches["accounts"].records)
    assert batches["analytic_accounts"].records
    assert {p.default_code for p in batches["expense_products"].records} >= {"FOOD", "GIFT"}
    assert all(p.can_be_expensed for p in batches["expense_products"].records)
    ids = [r.odoo_id for r in batches["partners"].records]
    assert len(ids) == len(set(ids))  # keyset paging neither repeats nor skips


def test_import_is_incremental_on_write_date(sandbox, client):
    first = import_master_data(client, "departments")
    [new_id] = client.create("hr.department", [{"name": unique("Dept")}])
    second = import_master_data(client, "departments", since=first.watermark)
    assert new_id in {d.odoo_id for d in second.records}
    # only what changed since the watermark (minus the one-second overlap) is read again
    assert all(d.write_date >= first.watermark - dt.timedelta(seconds=1) for d in second.records)
    assert second.watermark >= first.watermark


def test_employee_export_is_idempotent(sandbox, client):
    binder = InMemoryBinder()
    people = [EmployeeExport(unique("e"), f"Person {i}", f"{unique('p')}@example.com") for i in range(3)]
    first = export_employees(client, people, binder=binder)
    assert all(isinstance(r, EmployeeExportResult) and r.created for r in first)
    # again with the same binder, then with none (external id / work email find them)
    second = export_employees(client, people, binder=binder)
    third = export_employees(client, people, binder=InMemoryBinder())
    assert [r.odoo_id for r in second] == [r.odoo_id for r in third] == [r.odoo_id for r in first]
    assert not any(r.created for r in second + third)
    rows = client.read("hr.employee", [r.odoo_id for r in first], ["work_email", "work_contact_id"])
    assert all(row["work_contact_id"] for row in rows)
    bad = export_employees(client, [EmployeeExport("x", "No Mail", "")], binder=binder)
    assert isinstance(bad[0], PermanentError)


def test_version_detection(sandbox, client):
    assert client.version().major == int(sandbox.profile)


def test_wrong_password_is_permanent(sandbox):
    config = OdooConfig(url=sandbox.url, db=sandbox.db, login=sandbox.login, password="wrong")
    with pytest.raises(PermanentError) as caught:
        OdooClient(config).search("res.partner", [])
    assert caught.value.code == "AccessDenied"


def test_unknown_model_and_private_method_are_permanent(sandbox, client):
    with pytest.raises(PermanentError):
        client.search("hr.nonexistent.model", [])
    with pytest.raises(PermanentError) as caught:
        client.call("hr.expense", "_compute_state", [1])
    assert caught.value.code == "AccessError"
