"""The exception queue's actions, filters and pages, through the Django test client: every
action goes through the services and leaves history with its reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from controlplane.core.actors import Actor
from controlplane.exceptions.models import ExceptionKind, ExceptionRecord, ExceptionStatus
from controlplane.exceptions.services import exception_assign, exception_dismiss
from controlplane.sync.models import JobState
from tests import factories as f
from tests.observability import factories as of

pytestmark = pytest.mark.django_db
QUEUE = "/admin/exceptions/exceptionrecord/"


@pytest.fixture
def as_finops(client, finops):
    client.force_login(finops)
    return client


def post_action(client, action: str, ids, **extra):
    data = {"action": action, "_selected_action": [str(i) for i in ids], **extra}
    if "apply" not in extra:
        data["index"] = "0"
    return client.post(QUEUE, data)


def last_reason(record) -> str:
    return record.history.order_by("-history_id").first().history_change_reason


def test_assign_to_me_moves_open_exceptions_in_progress(as_finops, finops):
    a, b = of.open_exception(), of.open_exception()
    response = post_action(as_finops, "assign_to_me", [a.pk, b.pk])
    assert response.status_code == 302
    for record in ExceptionRecord.objects.filter(pk__in=[a.pk, b.pk]):
        assert (record.status, record.assignee) == (ExceptionStatus.IN_PROGRESS, finops)
        assert last_reason(record) == "assigned to finops"


@pytest.mark.parametrize(("action", "status", "reason_prefix"), [
    ("resolve_selected", ExceptionStatus.RESOLVED, ""),
    ("override_selected", ExceptionStatus.OVERRIDDEN, "overridden: "),
    ("dismiss_selected", ExceptionStatus.DISMISSED, ""),
])
def test_text_actions_ask_for_their_text_then_apply_through_the_services(as_finops, finops, action, status,
                                                                          reason_prefix):
    record = of.open_exception()
    # the first POST shows the intermediate page
    page = post_action(as_finops, action, [record.pk])
    assert page.status_code == 200
    assert b'name="text"' in page.content and b'name="apply"' in page.content
    # an empty text is refused, nothing changes
    refused = post_action(as_finops, action, [record.pk], apply="1", text="  ")
    assert refused.status_code == 200 and b"errorlist" in refused.content
    assert ExceptionRecord.objects.get(pk=record.pk).status == ExceptionStatus.OPEN
    # a written text applies it
    text = "Checked with the employee; receipts match the card statement."
    done = post_action(as_finops, action, [record.pk], apply="1", text=text)
    assert done.status_code == 302
    record.refresh_from_db()
    assert (record.status, record.resolution, record.closed_by) == (status, text, finops)
    assert last_reason(record) == f"{reason_prefix}{text}"


def test_override_needs_at_least_ten_characters(as_finops):
    record = of.open_exception()
    response = post_action(as_finops, "override_selected", [record.pk], apply="1", text="too short")
    assert response.status_code == 200 and b"errorlist" in response.content
    assert ExceptionRecord.objects.get(pk=record.pk).status == ExceptionStatus.OPEN


def test_closed_exceptions_are_reported_not_changed(as_finops):
    record = of.open_exception()
    exception_dismiss(actor=of.SYSTEM_ACTOR, exception_id=record.pk, reason="noise")
    response = post_action(as_finops, "resolve_selected", [record.pk], apply="1", text="late fix")
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("refused" in m and f"#{record.pk}" in m for m in messages)
    assert ExceptionRecord.objects.get(pk=record.pk).status == ExceptionStatus.DISMISSED


def test_retry_replays_the_linked_dead_job_and_resolves_its_exception(as_finops):
    from controlplane.sync.dispatch import open_dead_exception

    # given a dead job and the exception the sync engine opened for it
    job = of.job(state=JobState.DEAD, last_error_class="PermanentError", last_error="mapping missing")
    open_dead_exception(job)
    record = ExceptionRecord.objects.get(kind=ExceptionKind.SYNC_DEAD)
    unrelated = of.open_exception()
    # when finance operations retry both
    response = post_action(as_finops, "retry_selected", [record.pk, unrelated.pk], apply="1",
                           text="Category mapping for MEALS added")
    # then the job is pending again and its exception resolved (by the replay service)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == JobState.PENDING
    assert job.last_replay_reason == "Category mapping for MEALS added"
    record.refresh_from_db()
    assert record.status == ExceptionStatus.RESOLVED
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("1 of 1 linked sync job" in m for m in messages)
    assert any(f"#{unrelated.pk}" in m for m in messages)


def test_one_record_at_a_time_from_its_page(as_finops, finops):
    record = of.open_exception(payload={"expense": "CP-1", "lines": [1, 2]})
    page = as_finops.get(f"{QUEUE}{record.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert f"{QUEUE}{record.pk}/act/override/" in content
    assert "&quot;expense&quot;: &quot;CP-1&quot;" in content  # the payload, pretty-printed and escaped
    assert 'name="_save"' not in content  # read-only: changes are actions
    form = as_finops.get(f"{QUEUE}{record.pk}/act/override/")
    assert form.status_code == 200
    done = as_finops.post(f"{QUEUE}{record.pk}/act/override/", {"text": "Approved by the CFO in writing."})
    assert done.status_code == 302 and done["Location"].endswith(f"{record.pk}/change/")
    assert ExceptionRecord.objects.get(pk=record.pk).status == ExceptionStatus.OVERRIDDEN


def test_subject_link_goes_to_the_object_admin_page(as_finops):
    employee = f.EmployeeFactory()
    of.open_exception(subject=employee, legal_entity=employee.legal_entity)
    content = as_finops.get(QUEUE).content.decode()
    assert f'href="/admin/masterdata/employee/{employee.pk}/change/"' in content


def test_filters_by_assignee_age_and_status(as_finops, finops):
    mine = of.open_exception(title="mine")
    exception_assign(actor=Actor(user=finops), exception_id=mine.pk)
    old = of.open_exception(title="old")
    ExceptionRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    closed = of.open_exception(title="closed")
    exception_dismiss(actor=of.SYSTEM_ACTOR, exception_id=closed.pk, reason="noise")

    def titles(**params):
        response = as_finops.get(QUEUE, params)
        assert response.status_code == 200
        return sorted(r.title for r in response.context["cl"].result_list)

    assert titles(assignee="me") == ["mine"]
    assert titles(assignee="none") == ["closed", "old"]
    assert titles(age="7to30d") == ["old"]
    assert titles(age="lt1d") == ["closed", "mine"]
    assert titles(status="active") == ["mine", "old"]
    assert titles(status="closed") == ["closed"]
