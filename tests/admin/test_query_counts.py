"""Change lists with 100 rows run a fixed, small number of queries (no N+1): the count is the
same with 100 rows as with 5, and below a ceiling."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controlplane.exceptions.models import ExceptionKind
from tests import factories as f
from tests.observability import factories as of

pytestmark = pytest.mark.django_db


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def make_exceptions(n: int, users) -> None:
    """``n`` exceptions over fresh entities, departments, systems and subjects (each call adds
    more related rows, so a query per related row would show)."""
    entities = [f.LegalEntityFactory() for _ in range(3)]
    departments = [f.DepartmentFactory(legal_entity=entities[0]) for _ in range(3)]
    systems = [f.ExternalSystemFactory() for i in range(3)]
    employees = [f.EmployeeFactory(legal_entity=entities[0]) for _ in range(3)]
    for i in range(n):
        record = of.open_exception(kind=ExceptionKind.values[i % len(ExceptionKind.values)],
                                   legal_entity=entities[i % 3], department=departments[i % 3],
                                   system=systems[i % 3], subject=employees[i % 3], payload={"i": i})
        if i % 2:
            record.assignee = users[i % len(users)]
            record.save()


def test_exception_queue_with_100_rows(client, finops, django_assert_max_num_queries):
    client.force_login(finops)
    users = [finops, f.UserFactory(username="other-finops")]
    make_exceptions(5, users)
    small = queries_for(client, "/admin/exceptions/exceptionrecord/")
    make_exceptions(95, users)
    with django_assert_max_num_queries(13):
        response = client.get("/admin/exceptions/exceptionrecord/?status=active")
    assert len(response.context["cl"].result_list) == 100
    assert queries_for(client, "/admin/exceptions/exceptionrecord/") == small


@pytest.mark.parametrize(("url", "factory"), [
    ("/admin/masterdata/employee/", lambda i, le: f.EmployeeFactory(
        legal_entity=le, department=f.DepartmentFactory(legal_entity=le),
        manager=f.EmployeeFactory(legal_entity=le))),
    ("/admin/masterdata/department/", lambda i, le: f.DepartmentFactory(
        legal_entity=le, head=f.EmployeeFactory(legal_entity=le), parent=f.DepartmentFactory(legal_entity=le))),
    ("/admin/masterdata/costcentre/", lambda i, le: f.CostCentreFactory(
        legal_entity=le, owner=f.EmployeeFactory(legal_entity=le))),
    ("/admin/masterdata/project/", lambda i, le: f.ProjectFactory(
        legal_entity=le, owner=f.EmployeeFactory(legal_entity=le))),
    ("/admin/connections/externalsystem/", lambda i, le: f.ExternalSystemFactory()),
])
def test_master_data_change_lists_with_100_rows(client, admin_user, url, factory, django_assert_max_num_queries):
    client.force_login(admin_user)
    entities = [f.LegalEntityFactory(code=f"QM{i}") for i in range(2)]
    for i in range(5):
        factory(i, entities[i % 2])
    small = queries_for(client, url)
    for i in range(5, 100):
        factory(i, entities[i % 2])
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert len(response.context["cl"].result_list) == 100
    assert queries_for(client, url) == small
