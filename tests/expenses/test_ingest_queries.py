"""Ingest cost: creating an expense from a source takes a fixed number of queries, whatever
the number of lines and allocations (codes resolved once per kind, lines / allocations and
their history rows written in bulk), and the bulk-written history still names actor and reason."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controlplane.expenses.models import ExpenseAllocation, ExpenseLine
from controlplane.expenses.services import expense_upsert_from_source
from tests.expenses.factories import expense_data, line, make_world

pytestmark = pytest.mark.django_db

ALLOCATIONS = [
    {"percent": "60", "project": "APOLLO", "analytic_account": "AA-APOLLO"},
    {"percent": "40", "cost_centre": "CC1"},
]


@pytest.fixture
def world():
    return make_world()


def _lines(n: int) -> list[dict]:
    return [line(f"{10 + i}.00", category="MEALS" if i % 2 else "TRAVEL", allocations=ALLOCATIONS) for i in range(n)]


def _create_counting(world, source_id: str, n: int):
    data = expense_data(world, currency="USD", lines=_lines(n))
    with CaptureQueriesContext(connection) as ctx:
        expense, created = expense_upsert_from_source(actor=world.actor("ingest"), source_system=world.source,
                                                      source_id=source_id, data=data)
    assert created
    return expense, len(ctx.captured_queries)


def test_create_query_count_does_not_grow_with_lines(world):
    # given an expense of 1 line and one of 10 lines, each line with 2 allocations
    _, one = _create_counting(world, "Q-1", 1)
    expense, ten = _create_counting(world, "Q-10", 10)
    print(f"\nexpense_upsert_from_source queries: 1 line = {one}, 10 lines = {ten}")
    # then both take the same, small number of queries, and everything was written
    assert ten == one
    assert ten <= 30
    assert expense.lines.count() == 10
    assert ExpenseAllocation.objects.filter(line__expense=expense).count() == 20


def test_bulk_written_lines_and_allocations_have_history_naming_actor_and_reason(world):
    # given an expense created by the source with 3 lines of 2 allocations
    expense, _ = _create_counting(world, "Q-H", 3)
    # then every line and allocation has one creation history row naming the system and reason
    lines = ExpenseLine.history.filter(expense_id=expense.pk)
    allocations = ExpenseAllocation.history.filter(line_id__in=expense.lines.values("pk"))
    assert lines.count() == 3 and allocations.count() == 6
    for row in [*lines, *allocations]:
        assert (row.history_type, row.history_system, row.history_change_reason) == ("+", "expenses-app", "ingest")


def test_bulk_written_history_names_the_user(world):
    # given a person (not a system) creating the expense
    actor = world.user_actor("fin", reason="keyed in")
    expense, _ = expense_upsert_from_source(actor=actor, source_system=world.source, source_id="Q-U",
                                            data=expense_data(world, lines=_lines(2)))
    # then the line history rows name that user and reason
    rows = ExpenseLine.history.filter(expense_id=expense.pk)
    assert {(r.history_user_id, r.history_change_reason) for r in rows} == {(actor.user.pk, "keyed in")}


def _amend_counting(world, source_id: str, n: int):
    expense, _ = _create_counting(world, source_id, n)
    changed = [dict(raw, amount=f"{20 + i}.00", allocations=ALLOCATIONS[::-1]) for i, raw in enumerate(_lines(n))]
    data = expense_data(world, currency="USD", lines=changed)
    with CaptureQueriesContext(connection) as ctx:
        expense, created = expense_upsert_from_source(actor=world.actor("re-sent"), source_system=world.source,
                                                      source_id=source_id, data=data)
    assert not created and expense.revision == 2
    return expense, len(ctx.captured_queries)


def test_amend_query_count_does_not_grow_with_lines(world):
    # given expenses of 1 and 10 lines, re-sent with every amount and allocation changed
    _, one = _amend_counting(world, "A-1", 1)
    expense, ten = _amend_counting(world, "A-10", 10)
    print(f"\nexpense_upsert_from_source (amend) queries: 1 line = {one}, 10 lines = {ten}")
    # then both take the same number of queries, and the lines, allocations and history changed
    assert ten == one
    assert sorted(expense.lines.values_list("amount", flat=True)) == [20 + i for i in range(10)]
    allocations = ExpenseAllocation.objects.filter(line__expense=expense)
    assert allocations.count() == 20 and allocations.filter(cost_centre__isnull=False, percent=40).count() == 10
    assert ExpenseAllocation.history.filter(line_id__in=expense.lines.values("pk"), history_type="-").count() == 20
    updates = ExpenseLine.history.filter(expense_id=expense.pk, history_type="~")
    assert updates.count() == 10
    assert {(r.history_system, r.history_change_reason) for r in updates} == {
        ("expenses-app", "re-sent")}
