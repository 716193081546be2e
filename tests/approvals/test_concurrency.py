"""Two approvals of the same step at the same moment: exactly one wins (PostgreSQL row locks)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from controlplane.core.actors import Actor
from controlplane.core.errors import DomainError
from controlplane.expenses import services as s
from tests.expenses.factories import ApprovalPolicyFactory, add_rule, make_expense, make_world


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("approvers", [("fin", "vp"), ("fin", "fin")], ids=["two group members", "same person twice"])
def test_two_simultaneous_approvals_of_one_step_exactly_one_wins(approvers):
    # Given a one-step chain any finance member may decide
    world = make_world()
    policy = ApprovalPolicyFactory(legal_entity=world.entity)
    add_rule(policy, steps=[{"kind": "group", "group": world.finance}])
    for code in ("fin", "vp"):
        world.people[code].user.groups.add(world.finance)
    expense = make_expense(world, submit=True)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(code: str) -> None:
        try:
            barrier.wait(timeout=30)
            s.approval_decide(actor=Actor(user=world.people[code].user), expense_id=expense.pk,
                              approver=world.people[code], decision="approve", comment=code)
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    # When both approve at once
    threads = [threading.Thread(target=approve, args=(code,)) for code in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then one wins, the other is told the expense moved on; one decision, one history row
    assert sorted(outcomes) == ["invalid_transition", "ok"]
    expense.refresh_from_db()
    assert expense.approval_state == "manager_approved"
    assert expense.approval_steps.filter(status="approved").count() == 1
    assert expense.history.filter(approval_state="manager_approved").count() == 1
