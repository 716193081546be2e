"""Bulk approval decisions and finance reviews: each item under the single services' rules,
with the same events, posting jobs and history; a refused item never undoes the others."""

from __future__ import annotations

import pytest

from controlplane.approvals.models import StepStatus
from controlplane.core.errors import NotAllowed
from controlplane.events.models import DomainEvent
from controlplane.exceptions.models import ExceptionRecord
from controlplane.expenses import services as s
from controlplane.expenses.bulk_decisions import Decision, approval_decide_many, expense_finance_review_many
from controlplane.expenses.models import Expense
from controlplane.sync.models import OutboxJob
from tests.expenses.factories import make_expense, make_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def _events(expense) -> list[tuple]:
    """The expense's events without what differs between two expenses (ids, source reference)."""
    rows = DomainEvent.objects.filter(object_id=str(expense.pk)).order_by("pk")
    return [(e.event_type, e.actor_label, {k: v for k, v in e.payload.items() if k not in ("expense", "source_id")})
            for e in rows]


def _history(expense) -> list[tuple]:
    return [(h.approval_state, h.posting_state, h.history_change_reason, h.history_system, h.history_user_id)
            for h in expense.history.order_by("history_id")]


def _steps(expense) -> list[tuple]:
    return [(st.order, st.status, st.decided_by_id, st.decided_by_user_id, st.comment)
            for st in expense.approval_steps.order_by("cycle", "order")]


def _job(expense) -> tuple:
    job = OutboxJob.objects.get(operation="odoo.post_expense", object_id=str(expense.pk))
    return (job.idempotency_key.replace(f":{expense.pk}:", ":ID:"), job.target_id, job.state, sorted(job.payload),
            job.history.count())


def test_bulk_leaves_the_same_events_jobs_history_and_steps_as_the_single_path(world):
    # given two submitted expenses alike
    single, bulk = make_expense(world, submit=True), make_expense(world, submit=True)
    mgr, fin = world.people["mgr"], world.people["fin"]
    actor = world.actor("api")
    # when one is approved and reviewed one at a time, the other in bulk
    s.approval_decide(actor=actor, expense_id=single.pk, approver=mgr, decision="approve", comment="fine")
    s.expense_finance_review(actor=actor, expense_id=single.pk, reviewer=fin, comment="checked")
    [decided] = approval_decide_many(actor=actor, decisions=[(bulk.pk, mgr, "approve", "fine")])
    [reviewed] = expense_finance_review_many(actor=actor, expense_ids=[bulk.public_id], reviewer=fin, comment="checked")
    # then both end alike, down to events, the posting job and the history with actor and reason
    assert decided.ok and reviewed.ok and reviewed.expense.posting_state == "posting"
    single, bulk = Expense.objects.get(pk=single.pk), Expense.objects.get(pk=bulk.pk)
    assert _events(bulk) == _events(single)
    assert [e[0] for e in _events(bulk)][-3:] == ["expense.step_approved", "expense.approved",
                                                  "expense.finance_reviewed"]
    assert _job(bulk) == _job(single) == (_job(single)[0], world.odoo.pk, "pending", _job(single)[3], 1)
    assert _history(bulk) == _history(single)
    assert _history(bulk)[-2:] == [("manager_approved", "not_posted", "approve: fine", "expenses-app", None),
                                   ("finance_reviewed", "posting", "finance reviewed: checked", "expenses-app", None)]
    assert _steps(bulk) == _steps(single) == [(1, StepStatus.APPROVED, mgr.pk, mgr.user_id, "fine")]
    assert (bulk.finance_reviewed_by_id, bulk.finance_reviewed_by_employee_id) == (fin.user_id, fin.pk)


def test_a_self_approval_is_refused_and_recorded_while_the_others_are_decided(world):
    # given three submitted expenses, the middle one the approver's own
    first, second = make_expense(world, submit=True), make_expense(world, submit=True)
    own = make_expense(world, submit=True, employee="MGR")
    mgr = world.people["mgr"]
    # when the manager decides all three in one call (their own is routed to their manager)
    results = approval_decide_many(actor=world.actor("api"), decisions=[
        Decision(first.pk, mgr, "approve", "ok"), Decision(own.pk, mgr, "approve", "mine"),
        Decision(second.pk, mgr, "reject", "no receipt"),
    ])
    # then the refusal is an sod_violation with its sod_conflict exception, exactly as the single path records it
    assert [(r.index, r.ok, r.code) for r in results] == [(0, True, ""), (1, False, "sod_violation"), (2, True, "")]
    record = ExceptionRecord.objects.get(kind="sod_conflict", object_id=str(own.pk))
    assert results[1].exception_id == record.pk and results[1].status == 403
    assert record.payload == {"rule": "self_approval", "person": f"employee:{mgr.pk}", "actor": "system:expenses-app"}
    with pytest.raises(NotAllowed) as single:
        s.approval_decide(actor=world.actor("api"), expense_id=own.pk, approver=mgr, decision="approve")
    assert getattr(single.value, "exception_id", None) == record.pk  # the same (deduplicated) record
    # and the others went through; the refused one is untouched, its step still pending for its approver
    states = dict(Expense.objects.filter(pk__in=[first.pk, own.pk, second.pk]).values_list("pk", "approval_state"))
    assert states == {first.pk: "manager_approved", own.pk: "submitted", second.pk: "rejected"}
    assert own.approval_steps.get(status=StepStatus.PENDING).approver_id == world.people["vp"].pk


def test_conflicts_unassigned_and_unknown_items_fail_alone(world):
    # given a submitted expense, a rejected one and one awaiting the manager
    a, b, rejected = (make_expense(world, submit=True) for _ in range(3))
    mgr, peer = world.people["mgr"], world.people["peer"]
    s.approval_decide(actor=world.actor(), expense_id=rejected.pk, approver=mgr, decision="reject", comment="no")
    # when a batch decides the same expense twice, names a stranger, a decided expense and a missing one
    results = approval_decide_many(actor=world.actor("api"), decisions=[
        (a.pk, mgr, "approve", ""), (a.pk, mgr, "approve", "again"), (b.pk, peer, "approve", ""),
        (rejected.pk, mgr, "approve", ""), (10**9, mgr, "approve", ""), (b.pk, mgr, "return", "add a receipt"),
    ], chunk_size=4)
    # then each refused item answers like the single service and the rest are decided
    assert [(r.index, r.ok, r.code, r.status) for r in results] == [
        (0, True, "", 200), (1, False, "invalid_transition", 409), (2, False, "not_assigned", 403),
        (3, False, "invalid_transition", 409), (4, False, "expense_not_found", 404), (5, True, "", 200),
    ]
    assert Expense.objects.get(pk=a.pk).approval_state == "manager_approved"
    assert Expense.objects.get(pk=b.pk).approval_state == "returned"
    assert DomainEvent.objects.filter(object_id=str(a.pk), event_type="expense.approved").count() == 1
    assert not ExceptionRecord.objects.filter(kind="sod_conflict").exists()


def test_finance_review_many_refuses_an_approver_per_item_and_queues_one_posting_each(world):
    # given two expenses approved by the manager, one (a peer's) approved by the vp, one still submitted
    mgr, vp = world.people["mgr"], world.people["vp"]
    by_mgr = [make_expense(world, submit=True) for _ in range(2)]
    by_vp = make_expense(world, submit=True, employee="PEER")
    waiting = make_expense(world, submit=True)
    approval_decide_many(actor=world.actor(), decisions=[(e.pk, mgr, "approve", "") for e in by_mgr]
                         + [(by_vp.pk, vp, "approve", "")])
    # when the manager (an approver of two of them) reviews all four
    results = expense_finance_review_many(actor=world.actor("api"), reviewer=mgr, comment="month end",
                                          expense_ids=[by_mgr[0].pk, by_vp.pk, waiting.pk, by_mgr[1].pk])
    # then the two they approved are refused and recorded, the unapproved one conflicts, the vp's goes through
    assert [(r.ok, r.code) for r in results] == [(False, "sod_violation"), (True, ""), (False, "invalid_transition"),
                                                 (False, "sod_violation")]
    refused = ExceptionRecord.objects.filter(kind="sod_conflict").order_by("pk")
    assert [(r.object_id, r.payload["rule"]) for r in refused] == [(str(by_mgr[0].pk), "approver_reviews"),
                                                                   (str(by_mgr[1].pk), "approver_reviews")]
    assert [results[0].exception_id, results[3].exception_id] == [r.pk for r in refused]
    jobs = OutboxJob.objects.filter(operation="odoo.post_expense")
    assert list(jobs.values_list("idempotency_key", flat=True)) == [f"odoo.post_expense:{by_vp.pk}:r1"]
    # and a second review of the same expense is a conflict that queues nothing more
    [again] = expense_finance_review_many(actor=world.actor(), reviewer=world.people["fin"], expense_ids=[by_vp.pk])
    assert (again.ok, again.code) == (False, "invalid_transition") and jobs.count() == 1


def test_items_run_in_chunks_and_keep_their_order(world):
    expenses = [make_expense(world, submit=True) for _ in range(5)]
    results = approval_decide_many(actor=world.actor(), chunk_size=2,
                                   decisions=[(e.public_id, world.people["mgr"], "approve", "") for e in expenses])
    assert [(r.index, r.ok, r.expense.pk) for r in results] == [(i, True, e.pk) for i, e in enumerate(expenses)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_bulk_calls_in_opposite_orders_never_deadlock_and_decide_each_expense_once():
    import threading

    from django.db import connection

    # given twenty submitted expenses, and two callers deciding all of them, one forwards, one backwards
    world = make_world()
    expenses = [make_expense(world, submit=True) for _ in range(20)]
    barrier, outcomes, crashed = threading.Barrier(2), {}, []

    def decide(name: str, order: list) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes[name] = approval_decide_many(actor=world.actor(name), decisions=[
                (e.pk, world.people["mgr"], "approve", name) for e in order])
        except Exception as exc:  # a deadlock would surface here as a DatabaseError
            crashed.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=("forwards", expenses)),
               threading.Thread(target=decide, args=("backwards", expenses[::-1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # then neither crashed, and each expense was approved by exactly one of them (the other saw a conflict)
    assert not crashed
    by_expense: dict[int, list[str]] = {}
    for results in outcomes.values():
        for r in results:
            by_expense.setdefault(r.expense.pk, []).append("ok" if r.ok else r.code)
    assert {pk: sorted(v) for pk, v in by_expense.items()} == {e.pk: ["invalid_transition", "ok"] for e in expenses}
    assert DomainEvent.objects.filter(event_type="expense.approved").count() == 20
