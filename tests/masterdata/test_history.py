"""Every master-data change leaves a history row naming the acting user or system and a reason."""

from __future__ import annotations

import pytest

from controlplane.connections.models import SystemKind
from controlplane.core.actors import Actor
from controlplane.masterdata.models import Employee
from controlplane.masterdata.services import KINDS, masterdata_upsert
from tests.factories import (
    DepartmentFactory,
    EmployeeFactory,
    ExternalSystemFactory,
    LegalEntityFactory,
    OwnershipRuleFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_system_write_records_system_and_reason():
    # given an HR system that owns employees
    hr = ExternalSystemFactory(code="workday", kind=SystemKind.HR)
    OwnershipRuleFactory(object_kind="employee", owner=hr)
    entity = LegalEntityFactory()
    # when it creates then renames an employee
    emp, created = masterdata_upsert(
        actor=Actor(system=hr, reason="nightly HR feed"), writer=hr, kind="employee",
        lookup={"legal_entity": entity, "code": "E1"},
        values={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
    )
    masterdata_upsert(
        actor=Actor(system=hr), writer=hr, kind="employee",
        lookup={"legal_entity": entity, "code": "E1"}, values={"last_name": "King"},
    )
    # then two history rows name the system, each with a reason
    rows = list(emp.history.order_by("history_date"))
    assert created and len(rows) == 2
    assert [r.history_system for r in rows] == ["workday", "workday"]
    assert rows[0].history_change_reason == "nightly HR feed"
    assert rows[1].history_change_reason == "employee updated by workday"
    assert rows[1].last_name == "King" and rows[0].last_name == "Lovelace"


def test_unchanged_write_leaves_no_history():
    hr = ExternalSystemFactory(kind=SystemKind.HR)
    OwnershipRuleFactory(object_kind="employee", owner=hr)
    emp = EmployeeFactory(first_name="Grace")
    before = emp.history.count()
    masterdata_upsert(actor=Actor(system=hr), writer=hr, kind="employee",
                      lookup={"pk": emp.pk}, values={"first_name": "Grace"})
    assert emp.history.count() == before


def test_admin_edit_records_staff_user_and_reason(client):
    # given a superuser in the admin
    admin = UserFactory(username="controller", is_staff=True, is_superuser=True)
    client.force_login(admin)
    dept = DepartmentFactory(name="Sales")
    # when they rename the department through the change form
    url = f"/admin/masterdata/department/{dept.pk}/change/"
    response = client.post(url, {
        "legal_entity": dept.legal_entity.pk, "code": dept.code, "name": "Field sales", "active": "on",
    })
    # then the change is saved and the history names the user and a reason
    assert response.status_code == 302, response.content[:500]
    last = dept.history.latest("history_date")
    assert last.name == "Field sales"
    assert last.history_user == admin
    assert last.history_change_reason == "changed in admin: name"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_masterdata_model_keeps_history(kind):
    model = KINDS[kind]
    assert hasattr(model, "history"), f"{model.__name__} has no HistoricalRecords"


def test_refused_write_by_non_owner_changes_nothing():
    hr = ExternalSystemFactory(kind=SystemKind.HR)
    other = ExternalSystemFactory(kind=SystemKind.EXPENSE_PLATFORM)
    OwnershipRuleFactory(object_kind="employee", owner=hr)
    emp = EmployeeFactory(first_name="Linus")
    from controlplane.connections.ownership import OwnershipViolation

    with pytest.raises(OwnershipViolation):
        masterdata_upsert(actor=Actor(system=other), writer=other, kind="employee",
                          lookup={"pk": emp.pk}, values={"first_name": "Mallory"})
    emp.refresh_from_db()
    assert emp.first_name == "Linus"
    assert Employee.history.filter(id=emp.pk).count() == 1
