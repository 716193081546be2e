"""Routing: table-driven scenarios for each rule condition, each step kind and each amount
boundary (in base currency, after conversion), the self-approval skip and fallbacks."""

from __future__ import annotations

import pytest

from controlplane.approvals.models import StepKind, StepStatus
from controlplane.core.errors import ValidationFailed
from tests.expenses.factories import ApprovalPolicyFactory, add_rule, line, make_expense, make_world

pytestmark = pytest.mark.django_db


def chain_of(expense) -> list[str]:
    steps = expense.approval_steps.order_by("cycle", "order")
    return [f"group:{s.group.name}" if s.group_id else s.approver.code.lower() for s in steps]


# (id, rules, expense kwargs, expected chain). Rules: list of (conditions, steps); conditions
# name world attributes ("department", "project", "cost_centre", "category:MEALS") or amounts.
SCENARIOS = [
    ("no policy: direct manager", None, {}, ["mgr"]),
    ("manager", [({}, [{"kind": StepKind.MANAGER}])], {}, ["mgr"]),
    ("manager chain, 2 levels", [({}, [{"kind": StepKind.MANAGER_CHAIN, "levels": 2}])], {}, ["mgr", "vp"]),
    ("department head", [({"department": True}, [{"kind": StepKind.DEPARTMENT_HEAD}])], {}, ["vp"]),
    ("project owner", [({"project": True}, [{"kind": StepKind.PROJECT_OWNER}])], {"project": True}, ["mgr"]),
    ("project rule does not match without the project", [({"project": True}, [{"kind": StepKind.EMPLOYEE}])],
     {}, ["mgr"]),
    ("cost-centre owner", [({"cost_centre": True}, [{"kind": StepKind.COST_CENTRE_OWNER}])], {}, ["vp"]),
    ("named group", [({}, [{"kind": StepKind.MANAGER}, {"kind": StepKind.GROUP}])], {}, ["mgr", "group:finance"]),
    ("named employee", [({}, [{"kind": StepKind.EMPLOYEE}])], {}, ["ceo"]),
    ("category matches", [({"category": "MEALS"}, [{"kind": StepKind.EMPLOYEE}])], {"category": "MEALS"}, ["ceo"]),
    ("category does not match", [({"category": "MEALS"}, [{"kind": StepKind.EMPLOYEE}])], {}, ["mgr"]),
    ("min 1000 inclusive: 999.99 EUR does not match",
     [({"min_amount": "1000.00"}, [{"kind": StepKind.EMPLOYEE}])], {"amount": "999.99"}, ["mgr"]),
    ("min 1000 inclusive: 1000.00 EUR matches",
     [({"min_amount": "1000.00"}, [{"kind": StepKind.EMPLOYEE}])], {"amount": "1000.00"}, ["ceo"]),
    ("max 1000 exclusive: 999.99 EUR matches",
     [({"max_amount": "1000.00"}, [{"kind": StepKind.EMPLOYEE}])], {"amount": "999.99"}, ["ceo"]),
    ("max 1000 exclusive: 1000.00 EUR does not match",
     [({"max_amount": "1000.00"}, [{"kind": StepKind.EMPLOYEE}])], {"amount": "1000.00"}, ["mgr"]),
    ("USD 1111.10 × 0.9 = 999.99 EUR does not match",
     [({"min_amount": "1000.00"}, [{"kind": StepKind.EMPLOYEE}])], {"amount": "1111.10", "currency": "USD"}, ["mgr"]),
    ("USD 1111.11 × 0.9 = 1000.00 EUR (half-up) matches",
     [({"min_amount": "1000.00"}, [{"kind": StepKind.EMPLOYEE}])], {"amount": "1111.11", "currency": "USD"}, ["ceo"]),
    ("two matching rules add their steps in order",
     [({}, [{"kind": StepKind.MANAGER}]), ({"min_amount": "500"}, [{"kind": StepKind.GROUP}])],
     {"amount": "600.00"}, ["mgr", "group:finance"]),
    ("stop_processing ends evaluation",
     [({"stop_processing": True}, [{"kind": StepKind.MANAGER}]), ({}, [{"kind": StepKind.GROUP}])], {}, ["mgr"]),
    ("same person twice goes one level up",
     [({}, [{"kind": StepKind.MANAGER_CHAIN, "levels": 2}, {"kind": StepKind.DEPARTMENT_HEAD}])], {},
     ["mgr", "vp", "ceo"]),
    ("submitter is the computed approver: next level",
     [({}, [{"kind": StepKind.MANAGER}, {"kind": StepKind.PROJECT_OWNER}])], {"employee": "MGR", "project": True},
     ["vp", "ceo"]),
]


def _build(world, rules, kwargs):
    if rules is not None:
        policy = ApprovalPolicyFactory(legal_entity=world.entity)
        for conditions, steps in rules:
            cond = {}
            for key, value in conditions.items():
                if key in ("department", "project", "cost_centre"):
                    cond[key] = getattr(world, key)
                elif key == "category":
                    cond[key] = world.categories[value]
                else:
                    cond[key] = value
            full_steps = []
            for step in steps:
                step = dict(step)
                if step["kind"] == StepKind.GROUP:
                    step["group"] = world.finance
                if step["kind"] == StepKind.EMPLOYEE:
                    step["employee"] = world.people["ceo"]
                full_steps.append(step)
            add_rule(policy, steps=full_steps, **cond)
    allocations = [{"percent": "100", "project": world.project.code}] if kwargs.get("project") else None
    extra = {"allocations": allocations} if allocations else {}
    return make_expense(
        world, employee=kwargs.get("employee", "EMP"), currency=kwargs.get("currency", "EUR"), submit=True,
        lines=[line(kwargs.get("amount", "100.00"), category=kwargs.get("category", "TRAVEL"), **extra)],
    )


@pytest.mark.parametrize(("rules", "kwargs", "expected"), [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS])
def test_routing_scenarios(rules, kwargs, expected):
    # Given a policy with the scenario's rules, when the expense is submitted
    world = make_world()
    expense = _build(world, rules, kwargs)
    # Then the frozen chain is the expected one, the first step pending and the rest waiting
    assert chain_of(expense) == expected
    statuses = list(expense.approval_steps.order_by("order").values_list("status", flat=True))
    assert statuses == [StepStatus.PENDING] + [StepStatus.WAITING] * (len(expected) - 1)


def test_base_amount_conversion_is_what_rules_see():
    world = make_world()
    expense = make_expense(world, currency="USD", lines=[line("1111.11")])
    line_row = expense.lines.get()
    assert (str(line_row.exchange_rate), str(line_row.amount_base)) == ("0.9000000000", "1000.00")
    assert expense.total_amount_base == line_row.amount_base


def test_hierarchy_exhausted_without_fallback_refuses_submission():
    # Given the CEO (nobody above) submits
    world = make_world()
    expense = make_expense(world, employee="CEO")
    from controlplane.expenses.services import expense_submit

    # When submitting, then routing refuses with a field error and nothing is written
    with pytest.raises(ValidationFailed) as err:
        expense_submit(actor=world.actor(), expense_id=expense.pk)
    assert [p.field for p in err.value.errors] == ["approval"]
    expense.refresh_from_db()
    assert expense.approval_state == "draft"
    assert not expense.approval_steps.exists()
    assert not expense.policy_results.exists()


def test_hierarchy_exhausted_goes_to_fallback_group():
    world = make_world()
    ApprovalPolicyFactory(legal_entity=world.entity, fallback_group=world.finance)
    expense = make_expense(world, employee="CEO", submit=True)
    assert chain_of(expense) == ["group:finance"]
    assert "fallback" in expense.approval_steps.get().routing_note


def test_chain_is_frozen_at_submission():
    # Given a submitted expense routed to mgr
    world = make_world()
    expense = make_expense(world, submit=True)
    # When the hierarchy changes afterwards
    world.people["emp"].manager = world.people["peer"]
    world.people["emp"].save()
    # Then the chain still names mgr
    assert chain_of(expense) == ["mgr"]
