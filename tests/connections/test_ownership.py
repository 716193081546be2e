"""System-of-record rules: the owner writes; anyone else is refused, nothing changes, and
an exception opens when the rule says so."""

from __future__ import annotations

import pytest

from controlplane.connections.models import OwnershipRule, SystemKind
from controlplane.connections.ownership import OwnershipViolation, owner_of, ownership_check
from controlplane.core.actors import Actor
from controlplane.exceptions.models import ExceptionKind, ExceptionRecord
from controlplane.masterdata.services import masterdata_upsert
from tests.factories import EmployeeFactory, ExternalSystemFactory, OwnershipRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def systems():
    return {
        "hr": ExternalSystemFactory(code="hr", kind=SystemKind.HR),
        "odoo": ExternalSystemFactory(code="odoo", kind=SystemKind.ODOO),
        "concur": ExternalSystemFactory(code="concur", kind=SystemKind.EXPENSE_PLATFORM),
    }


def test_most_specific_rule_wins(systems):
    OwnershipRuleFactory(object_kind="employee", owner=systems["hr"])
    OwnershipRuleFactory(object_kind="employee", field_group="bank", owner=systems["odoo"])
    assert owner_of("employee", "identity").owner == systems["hr"]
    assert owner_of("employee", "bank").owner == systems["odoo"]
    assert owner_of("project") is None


@pytest.mark.parametrize(
    "writer, group, allowed",
    [
        ("hr", "identity", True),
        ("hr", "bank", False),
        ("odoo", "bank", True),
        ("concur", "identity", False),
        (None, "identity", False),  # the control plane does not own what HR owns
    ],
)
def test_check_table(systems, writer, group, allowed):
    OwnershipRuleFactory(object_kind="employee", owner=systems["hr"], on_violation=OwnershipRule.OnViolation.REFUSE)
    OwnershipRuleFactory(object_kind="employee", field_group="bank", owner=systems["odoo"],
                         on_violation=OwnershipRule.OnViolation.REFUSE)
    who = systems[writer] if writer else None
    call = lambda: ownership_check(actor=Actor(system=who), writer=who, object_kind="employee", field_groups=[group])  # noqa: E731
    if allowed:
        call()
    else:
        with pytest.raises(OwnershipViolation) as err:
            call()
        assert err.value.errors[0].code == "not_system_of_record"


def test_no_rule_means_the_control_plane_owns(systems):
    ownership_check(actor=Actor(), writer=None, object_kind="project")
    with pytest.raises(OwnershipViolation):
        ownership_check(actor=Actor(system=systems["concur"]), writer=systems["concur"], object_kind="project")


def test_violation_opens_exception_with_payload_and_leaves_data_unchanged(systems):
    # given employees owned by HR, with violations turned into exceptions
    OwnershipRuleFactory(object_kind="employee", owner=systems["hr"], on_violation=OwnershipRule.OnViolation.EXCEPTION)
    emp = EmployeeFactory(last_name="Hopper")
    # when the expense platform tries to rename the employee
    with pytest.raises(OwnershipViolation) as err:
        masterdata_upsert(actor=Actor(system=systems["concur"]), writer=systems["concur"], kind="employee",
                          lookup={"pk": emp.pk}, values={"last_name": "Overwritten"})
    # then nothing changed, and one ownership-conflict exception holds the payload as received
    emp.refresh_from_db()
    assert emp.last_name == "Hopper"
    exc = ExceptionRecord.objects.get(pk=err.value.exception_id)
    assert exc.kind == ExceptionKind.OWNERSHIP_CONFLICT
    assert exc.system == systems["concur"]
    assert exc.payload["values"] == {"last_name": "Overwritten"}
