"""Bulk ingest (``expenses_create_many``): what it writes is what N single creates write,
in a number of queries that does not grow with the expenses; one item's problem never stops
the others; known and repeated references, scope and submission behave as item by item."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controlplane.core.actors import Actor
from controlplane.core.correlation import correlation
from controlplane.events.models import DomainEvent
from controlplane.expenses.ingest_bulk import expenses_create_many
from controlplane.expenses.models import Expense, ExpenseAllocation, ExpenseLine, ExpenseRevision, PolicyCheckResult
from controlplane.expenses.services import expense_upsert_from_source
from controlplane.sync.models import OutboxJob
from tests import factories as f
from tests.expenses.factories import expense_data, line, make_world

pytestmark = pytest.mark.django_db

SPLIT = [{"percent": "60", "project": "APOLLO", "analytic_account": "AA-APOLLO"}, {"percent": "40", "cost_centre": "CC1"}]


@pytest.fixture
def world():
    world = make_world()
    # GBP: a newer inverse rate (EUR→GBP, 2 days ago) and an older direct one (4 days ago)
    today = timezone.localdate()
    gbp = f.CurrencyFactory(code="GBP")
    f.ExchangeRateFactory(from_currency=world.eur, to_currency=gbp, date=today - dt.timedelta(days=2),
                          rate=Decimal("0.8500"), source="ECB")
    f.ExchangeRateFactory(from_currency=gbp, to_currency=world.eur, date=today - dt.timedelta(days=4),
                          rate=Decimal("1.1600"), source="manual")
    return world


def _varied(world) -> list[dict]:
    """Contents that exercise every code kind and default: allocations, the category's default
    tax, an explicit own tax, another entity's tax, an explicitly empty tax, a foreign currency."""
    yesterday = days_ago(1)
    return [
        expense_data(world, currency="USD", lines=[
            line("115.00", category="MEALS", allocations=SPLIT),
            line("20.00", category="TRAVEL", tax_code="VAT15", merchant='Quote " and \\ backslash'),
            line("30.00", category="TRAVEL", tax_code="", date=yesterday),
        ]),
        expense_data(world, employee="EMP2", lines=[line("99.99", category="TRAVEL", tax_code="VAT-OTHER",
                                                         description="x" * 200)]),
        expense_data(world, purpose="", lines=[line("10.00", category="UNMAPPED"), line("1.01", category="MEALS")]),
        # rates: the newer inverse one, the older direct one, none in the window
        expense_data(world, currency="GBP", lines=[line("50.00"), line("60.00", date=days_ago(3)),
                                                   line("70.00", date=days_ago(10))]),
    ]


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


def _rows(expense: Expense) -> dict:
    """Everything written for ``expense`` but keys, references and timestamps."""
    skip = {"id", "public_id", "source_id", "created_at", "updated_at", "expense_id", "line_id", "history_id",
            "history_date", "history_relation_id"}

    def clean(values: dict) -> dict:
        return {k: v for k, v in values.items() if k not in skip}

    lines = ExpenseLine.objects.filter(expense=expense).order_by("position")
    allocations = ExpenseAllocation.objects.filter(line__expense=expense).order_by("line__position", "id")
    revisions = ExpenseRevision.objects.filter(expense=expense)
    return {
        "expense": clean(Expense.objects.filter(pk=expense.pk).values().get()),
        "lines": [clean(v) for v in lines.values()],
        "allocations": [clean(v) for v in allocations.values()],
        "revisions": [clean(v) for v in revisions.values()],
        "history": {
            "expense": [clean(v) for v in Expense.history.filter(id=expense.pk).values()],
            "lines": [clean(v) for v in ExpenseLine.history.filter(expense_id=expense.pk).order_by("position").values()],
            "allocations": [clean(v) for v in ExpenseAllocation.history.filter(
                line_id__in=lines.values("pk")).order_by("history_id").values()],
            "revisions": [clean(v) for v in ExpenseRevision.history.filter(expense_id=expense.pk).values()],
        },
    }


def _items(contents: list[dict], prefix: str, **extra) -> list[dict]:
    return [{**content, "source_id": f"{prefix}-{i}", **extra} for i, content in enumerate(contents)]


@pytest.mark.parametrize("reason", ["ingest", ""])
def test_bulk_writes_what_single_creates_write(world, reason):
    # given the same contents created one by one and in bulk, by the same actor and correlation id
    actor = Actor(system=world.source, reason=reason)
    contents = _varied(world)
    with correlation("corr-1"):
        singles = [expense_upsert_from_source(actor=actor, source_system=world.source, source_id=f"S-{i}",
                                              data=content)[0] for i, content in enumerate(contents)]
    events, jobs = DomainEvent.objects.count(), OutboxJob.objects.count()
    with correlation("corr-1"):
        results = expenses_create_many(actor=actor, source_system=world.source, items=_items(contents, "B"))
    # then every item is created, with the same expense, lines, allocations, revision and history rows
    assert [r.status for r in results] == ["created"] * 4
    gbp = [(str(x.exchange_rate), x.exchange_rate_source) for x in results[3].expense.lines.order_by("position")]
    assert gbp == [("1.1764705882", "ECB (inverse)"), ("1.1600000000", "manual"), ("None", "")]
    for i, (single, result) in enumerate(zip(singles, results, strict=True)):
        single_rows, bulk_rows = _rows(single), _rows(result.expense)
        for rows, sid in ((single_rows, f"S-{i}"), (bulk_rows, f"B-{i}")):
            reasons = {h["history_change_reason"] for kind in rows["history"].values() for h in kind}
            assert reasons == {reason or f"created from expenses-app:{sid}"}
            for kind in rows["history"].values():
                for h in kind:
                    h.pop("history_change_reason")
                    assert h.pop("source_id", sid) == sid
        assert bulk_rows == single_rows
        assert bulk_rows["history"]["expense"][0]["history_system"] == "expenses-app"
        assert bulk_rows["history"]["expense"][0]["history_correlation_id"] == "corr-1"
        assert len(bulk_rows["history"]["allocations"]) == len(bulk_rows["allocations"]) > 0
    # and, as a single create, no event and no outbox job
    assert (DomainEvent.objects.count(), OutboxJob.objects.count()) == (events, jobs)
    assert results[0].expense.lines.get(position=1).merchant == 'Quote " and \\ backslash'


def test_bulk_history_names_the_user(world):
    # given a person creating expenses in bulk
    actor = world.user_actor("fin", reason="keyed in")
    results = expenses_create_many(actor=actor, source_system=world.source,
                                   items=_items([expense_data(world, lines=[line(allocations=SPLIT)])], "U"))
    expense = results[0].expense
    # then each history row names that user and reason
    rows = [*Expense.history.filter(id=expense.pk), *ExpenseLine.history.filter(expense_id=expense.pk),
            *ExpenseAllocation.history.filter(line_id__in=expense.lines.values("pk")),
            *ExpenseRevision.history.filter(expense_id=expense.pk)]
    assert len(rows) == 5
    assert {(r.history_type, r.history_user_id, r.history_change_reason) for r in rows} == {
        ("+", actor.user.pk, "keyed in")}


def _count(world, n: int, prefix: str) -> tuple[int, int]:
    contents = [expense_data(world, currency="USD" if i % 2 else "GBP", lines=[
        line(f"{10 + i}.00", allocations=SPLIT, date=days_ago(i % 5)), line("5.00", category="MEALS")])
        for i in range(n)]
    with CaptureQueriesContext(connection) as ctx:
        results = expenses_create_many(actor=world.actor("ingest"), source_system=world.source,
                                       items=_items(contents, prefix))
    assert [r.status for r in results] == ["created"] * n
    assert ExpenseLine.objects.filter(expense__source_id__startswith=f"{prefix}-").count() == 2 * n
    inserts = sum(1 for q in ctx.captured_queries if q["sql"].startswith("INSERT"))
    return len(ctx.captured_queries), len(ctx.captured_queries) - inserts


def test_query_count_does_not_grow_with_expenses(world):
    # given 1 and then 20 new expenses of 2 lines (one with 2 allocations), in USD or GBP, over 5 dates
    # (rates to look up)
    (one, one_reads), (twenty, twenty_reads) = _count(world, 1, "Q1"), _count(world, 20, "Q20")
    print(f"\nexpenses_create_many queries: 1 expense = {one}, 20 expenses = {twenty}")
    # then both take the same, small number of queries
    assert twenty_reads == one_reads
    if connection.vendor == "postgresql":
        assert twenty == one <= 25
    else:
        # SQLite splits a large INSERT by its limit on parameters per statement.
        assert one <= twenty <= one + 4


def test_item_errors_do_not_stop_the_others(world):
    # given a valid item, an unknown employee, an unknown category on line 1, a wrong precision, a valid item
    good = expense_data(world)
    bad_employee = expense_data(world, employee="NOBODY")
    bad_category = expense_data(world, lines=[line(), line(category="NOPE")])
    bad_amount = expense_data(world, lines=[line("1.001")])
    items = _items([good, bad_employee, bad_category, bad_amount, good], "E")
    results = expenses_create_many(actor=world.actor(), source_system=world.source, items=items)
    # then the valid ones are created and each invalid one says what is wrong, field by field
    assert [r.status for r in results] == ["created", "error", "error", "error", "created"]
    assert [(p.field, p.code) for p in results[1].error.errors] == [("employee", "unknown")]
    assert [(p.field, p.code) for p in results[2].error.errors] == [("lines.1.category", "unknown")]
    assert [(p.field, p.code) for p in results[3].error.errors] == [("lines.0.amount", "precision")]
    assert set(Expense.objects.values_list("source_id", flat=True)) == {"E-0", "E-4"}
    # and the problems are the ones a single create reports
    for i in (1, 2, 3):
        with pytest.raises(Exception) as single:
            expense_upsert_from_source(actor=world.actor(), source_system=world.source, source_id=f"X-{i}",
                                       data=items[i])
        assert single.value.errors == results[i].error.errors


def test_existing_reference_is_amended(world):
    # given an expense the source created before
    old, _ = expense_upsert_from_source(actor=world.actor(), source_system=world.source, source_id="K-1",
                                        data=expense_data(world))
    # when it comes again in bulk with another purpose, beside a new one
    items = _items([expense_data(world, purpose="Changed"), expense_data(world)], "K")
    items[0]["source_id"], items[1]["source_id"] = "K-1", "K-2"
    results = expenses_create_many(actor=world.actor("resent"), source_system=world.source, items=items)
    # then the known one is amended (revision 2, same row) and the new one created
    assert [r.status for r in results] == ["updated", "created"]
    old.refresh_from_db()
    assert (results[0].expense.pk, old.revision, old.purpose) == (old.pk, 2, "Changed")
    assert old.revisions.get(revision=2).changed == ["purpose"]


def test_repeated_reference_within_one_request(world):
    # given the same reference twice, the second with another amount; then a third time, unchanged
    items = [{**expense_data(world, lines=[line("10.00")]), "source_id": "D-1"},
             {**expense_data(world, lines=[line("12.00")]), "source_id": "D-1"},
             {**expense_data(world, lines=[line("12.00")]), "source_id": "D-1"}]
    results = expenses_create_many(actor=world.actor(), source_system=world.source, items=items)
    # then it is created once, then amended, then left as it is, as three single calls would
    assert [r.status for r in results] == ["created", "updated", "updated"]
    expense = Expense.objects.get(source_id="D-1")
    assert expense.revision == 2 and expense.total_amount == 12
    assert list(expense.revisions.values_list("revision", flat=True)) == [1, 2]


def test_repeat_of_a_failed_item_is_created(world):
    # given a reference whose first occurrence is invalid and the second valid
    items = [{**expense_data(world, employee="NOBODY"), "source_id": "F-1"}, {**expense_data(world), "source_id": "F-1"}]
    results = expenses_create_many(actor=world.actor(), source_system=world.source, items=items)
    # then the second creates it (the first created nothing)
    assert [r.status for r in results] == ["error", "created"]
    assert Expense.objects.get(source_id="F-1").revision == 1


def test_scope_refuses_per_item(world):
    # given a caller limited to LE-EU, and an expense of the other entity sent earlier
    other = world.other_entity
    other_emp = make_other_employee(other)
    hidden, _ = expense_upsert_from_source(actor=world.actor(), source_system=world.source, source_id="H-1",
                                           data={**expense_data(world, employee=other_emp.code),
                                                 "legal_entity": other.code})
    items = [{**expense_data(world), "legal_entity": other.code, "employee": other_emp.code, "source_id": "O-1"},
             {**expense_data(world), "source_id": "H-1"},
             {**expense_data(world), "source_id": "O-2"}]
    visible = Expense.objects.filter(legal_entity_id__in=[world.entity.pk])
    results = expenses_create_many(actor=world.actor(), source_system=world.source, items=items,
                                   entity_ids={world.entity.pk}, visible=lambda: visible)
    # then the other entity reads as unknown, the hidden reference too, and the third is created
    assert [r.status for r in results] == ["error", "error", "created"]
    assert [(p.field, p.code) for p in results[0].error.errors] == [("legal_entity", "unknown")]
    assert [(p.field, p.code) for p in results[1].error.errors] == [("source_id", "unknown")]
    hidden.refresh_from_db()
    assert hidden.revision == 1 and not Expense.objects.filter(source_id="O-1").exists()


def make_other_employee(entity):
    return f.EmployeeFactory(legal_entity=entity, code="OTHER-EMP", user__username="u-other")


def test_other_system_is_not_the_system_of_record(world):
    # given a token of another system writing the source's expenses
    results = expenses_create_many(actor=Actor(system=world.other_source, reason="x"), source_system=world.source,
                                   items=_items([expense_data(world)], "N"))
    # then every item is refused and nothing is written
    assert results[0].status == "error" and results[0].error.code == "not_system_of_record"
    assert not Expense.objects.exists()


def test_submit_after_create_and_a_refused_submission_leaves_nothing(world):
    # given an item to submit, one whose submission fails a hard policy check (unmapped category),
    # and a draft with the same lines as the first
    items = [{**expense_data(world), "source_id": "P-1", "submit": True},
             {**expense_data(world, lines=[line(category="UNMAPPED")]), "source_id": "P-2", "submit": True},
             {**expense_data(world), "source_id": "P-3"}]
    results = expenses_create_many(actor=world.actor(), source_system=world.source, items=items)
    # then the first is submitted (event recorded), the second refused and not created, the third a draft
    assert [r.status for r in results] == ["created", "error", "created"]
    assert [(p.field, p.code) for p in results[1].error.errors] == [("lines.0.category", "category_mapped")]
    first = Expense.objects.get(source_id="P-1")
    assert first.approval_state == "submitted"
    assert DomainEvent.objects.filter(event_type="expense.submitted", object_id=str(first.pk)).count() == 1
    assert not Expense.objects.filter(source_id="P-2").exists()
    assert Expense.objects.get(source_id="P-3").approval_state == "draft"
    # and the first was checked before the third existed, as item by item: no duplicate finding
    outcomes = dict(PolicyCheckResult.objects.filter(expense=first).values_list("code", "outcome"))
    assert outcomes["duplicate_line"] == "pass"
