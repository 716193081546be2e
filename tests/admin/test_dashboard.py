"""The operations dashboard on the admin home: the figures, for the people allowed to see
them, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from controlplane.core.roles import APPROVER
from controlplane.exceptions.models import ExceptionKind
from controlplane.expenses.states import PostingState
from controlplane.sync.models import AttemptOutcome, JobState
from tests import factories as f
from tests.observability import factories as of

pytestmark = pytest.mark.django_db


def populate(n: int) -> None:
    now = timezone.now()
    entity = f.LegalEntityFactory()
    dept = f.DepartmentFactory(legal_entity=entity)
    odoo = f.ExternalSystemFactory(kind="odoo")
    for i in range(n):
        exp = of.expense(entity=entity, posting=PostingState.POSTED if i % 2 else PostingState.NOT_POSTED,
                         posted_at=now - dt.timedelta(days=10 + i))
        of.pending_step(exp, activated_at=now - dt.timedelta(days=i))
        of.open_exception(legal_entity=entity, department=dept, kind=ExceptionKind.POSTING_FAILED)
        job = of.job(target=odoo, operation="odoo.post_expense", queue="odoo",
                     state=(JobState.DEAD, JobState.SUCCEEDED, JobState.PENDING)[i % 3], finished_at=now)
        of.attempt(job, outcome=AttemptOutcome.RETRY if i % 4 == 0 else AttemptOutcome.SUCCEEDED,
                   duration_ms=100 + i)


def test_finops_sees_the_dashboard_with_its_figures(client, finops):
    populate(6)
    client.force_login(finops)
    response = client.get("/admin/")
    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="ops-dashboard"' in content
    assert "<polyline" in content  # the 30-day trend, inline SVG
    dash = response.context["dash"]
    assert dash["approvals"]["total"] == 6
    assert dash["exceptions"]["total"] == 6
    assert dash["failed_postings"] == [{"system": f.ExternalSystemFactory._meta.model.objects.get(kind="odoo").code,
                                        "dead": 2, "retrying": 0}]
    assert sum(d["count"] for d in dash["reimbursement_delays"]) == 3
    assert {q["queue"]: q["due"] for q in dash["queues"]}["odoo"] == 2
    assert dash["attempts"].total == 6 and dash["attempts"].retries == 2
    assert dash["odoo_latency"]["p50"] == 102
    assert "/admin/audit-export/" in content


def test_dashboard_query_count_does_not_grow_with_data(client, finops, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(finops)
    populate(2)
    with CaptureQueriesContext(connection) as small:
        client.get("/admin/")
    populate(30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get("/admin/").status_code == 200


def test_staff_without_exception_access_get_the_plain_home(client):
    client.force_login(of.staff_user(APPROVER, "approver1"))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert 'id="ops-dashboard"' not in response.content.decode()
