"""Suspected duplicates open one ``duplicate_suspected`` exception per expense for finance
operations, beside the soft finding the approver sees; a refused submission opens none."""

from __future__ import annotations

import pytest

from controlplane.core.errors import ValidationFailed
from controlplane.events.models import DomainEvent
from controlplane.exceptions.models import ExceptionRecord
from controlplane.expenses import services as s
from controlplane.expenses.ingest_bulk import expenses_create_many
from tests.expenses.factories import expense_data, line, make_expense, make_world

pytestmark = pytest.mark.django_db


def _duplicates():
    return ExceptionRecord.objects.filter(kind="duplicate_suspected")


def test_a_repeated_line_opens_one_exception_on_the_later_expense():
    # given an expense submitted, then another of the same employee with the same line
    world = make_world()
    first = make_expense(world, submit=True, lines=[line("40.00", merchant="Cafe")])
    assert not _duplicates().exists()
    second = make_expense(world, submit=True, lines=[line("40.00", merchant="CAFE")])
    # then one open exception names the later expense, the earlier one and the line
    [record] = _duplicates()
    assert record.status == "open" and record.object_id == str(second.pk)
    assert record.legal_entity_id == second.legal_entity_id and record.system_id == second.source_system_id
    assert str(first.public_id) in record.title and record.payload["findings"][0]["field"] == "lines.0"
    assert DomainEvent.objects.filter(event_type="exception.opened", object_id=str(record.pk)).exists()
    # when the later expense is returned and submitted again unchanged
    s.approval_decide(actor=world.user_actor("mgr"), expense_id=second.pk, approver=world.people["mgr"], decision="return",
                      comment="check this")
    s.expense_submit(actor=world.actor(), expense_id=second.pk)
    # then the active exception is the same one
    assert _duplicates().count() == 1


def test_a_repeated_receipt_file_opens_an_exception():
    world = make_world()
    first = make_expense(world, lines=[line("40.00")])
    s.receipt_attach(actor=world.actor(), expense_id=first.pk, content=b"\x89PNG\r\n\x1a\nsame", filename="a.png",
                     content_type="image/png")
    s.expense_submit(actor=world.actor(), expense_id=first.pk)
    second = make_expense(world, lines=[line("41.00")])
    s.receipt_attach(actor=world.actor(), expense_id=second.pk, content=b"\x89PNG\r\n\x1a\nsame", filename="b.png",
                     content_type="image/png")
    s.expense_submit(actor=world.actor(), expense_id=second.pk)
    [record] = _duplicates()
    assert record.object_id == str(second.pk) and record.payload["findings"][0]["code"] == "duplicate_receipt"


def test_a_refused_submission_opens_no_exception():
    # given a duplicate line on an expense that also fails a hard check
    world = make_world()
    make_expense(world, submit=True, lines=[line("40.00", merchant="Cafe")])
    dup = make_expense(world, lines=[line("40.00", merchant="Cafe"), line("10.00", category="UNMAPPED")])
    # when it is submitted, it is refused and no exception remains
    with pytest.raises(ValidationFailed):
        s.expense_submit(actor=world.actor(), expense_id=dup.pk)
    assert not _duplicates().exists()


def test_bulk_create_and_submit_opens_the_same_exception():
    world = make_world()
    items = [{**expense_data(world, lines=[line("40.00", merchant="Cafe")]), "source_id": f"B-{i}", "submit": True}
             for i in range(2)]
    results = expenses_create_many(actor=world.actor(), source_system=world.source, items=items)
    assert [r.status for r in results] == ["created", "created"]
    [record] = _duplicates()
    assert record.object_id == str(results[1].expense.pk)
