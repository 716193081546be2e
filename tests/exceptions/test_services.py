"""Exception lifecycle through its services."""

from __future__ import annotations

import pytest

from controlplane.core.errors import Conflict, ValidationFailed
from controlplane.exceptions.models import ExceptionKind, ExceptionStatus
from controlplane.exceptions.services import (
    exception_assign,
    exception_dismiss,
    exception_open,
    exception_override,
    exception_resolve,
)

pytestmark = pytest.mark.django_db


def test_open_is_idempotent_per_dedupe_key(actor):
    a = exception_open(actor=actor, kind=ExceptionKind.POSTING_FAILED, title="x", dedupe_key="post:1")
    b = exception_open(actor=actor, kind=ExceptionKind.POSTING_FAILED, title="x again", dedupe_key="post:1")
    assert a.pk == b.pk
    exception_resolve(actor=actor, exception_id=a.pk, note="fixed mapping")
    c = exception_open(actor=actor, kind=ExceptionKind.POSTING_FAILED, title="x", dedupe_key="post:1")
    assert c.pk != a.pk


def test_override_requires_justification_and_is_in_history(actor):
    record = exception_open(actor=actor, kind=ExceptionKind.DUPLICATE_SUSPECTED, title="dup?")
    exception_assign(actor=actor, exception_id=record.pk)
    with pytest.raises(ValidationFailed) as err:
        exception_override(actor=actor, exception_id=record.pk, justification="  ")
    assert err.value.errors[0].field == "justification"
    record.refresh_from_db()
    assert record.status == ExceptionStatus.IN_PROGRESS
    exception_override(actor=actor, exception_id=record.pk, justification="Two separate taxi rides, receipts checked.")
    record.refresh_from_db()
    assert record.status == ExceptionStatus.OVERRIDDEN
    last = record.history.latest("history_date")
    assert last.history_user == actor.user
    assert "Two separate taxi rides" in last.history_change_reason


def test_closed_exception_cannot_be_dismissed(actor):
    record = exception_open(actor=actor, kind=ExceptionKind.VALIDATION, title="bad")
    exception_dismiss(actor=actor, exception_id=record.pk, reason="noise")
    with pytest.raises(Conflict):
        exception_resolve(actor=actor, exception_id=record.pk)


def test_state_field_is_protected(actor):
    record = exception_open(actor=actor, kind=ExceptionKind.VALIDATION, title="bad")
    with pytest.raises(AttributeError):
        record.status = ExceptionStatus.RESOLVED


def test_opening_and_closing_record_domain_events(actor):
    from controlplane.events.models import DomainEvent

    record = exception_open(actor=actor, kind=ExceptionKind.POSTING_FAILED, title="Odoo refused", dedupe_key="e:1")
    exception_open(actor=actor, kind=ExceptionKind.POSTING_FAILED, title="again", dedupe_key="e:1")
    exception_resolve(actor=actor, exception_id=record.pk, note="re-posted")
    types = list(DomainEvent.objects.order_by("id").values_list("event_type", flat=True))
    assert types == ["exception.opened", "exception.resolved"]
