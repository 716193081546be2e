"""The routing engine: from an expense and its entity's policy, the chain of approval steps.

Pure planning (reads only): the services freeze the plan into ``ApprovalStep`` rows at
submission. Rules are evaluated in order; every matching rule adds its steps (until one with
``stop_processing``). A rule matches when all its set conditions match: department (the
employee's), project / cost centre (any allocation; the employee's cost centre too),
category (any line), amount ``min_amount <= total_amount_base < max_amount``.

Nobody approves their own expense and nobody appears twice: when the computed approver is
the submitter, already in the chain, or inactive, the step goes to that person's manager,
then upward; when the hierarchy runs out, to the policy's fallback group.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from controlplane.approvals.models import ApprovalPolicy, ApprovalRule, StepKind
from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.core.memo import memoized
from controlplane.masterdata.selectors import manager_chain

DEFAULT_SLA_HOURS = 48


@dataclass
class PlannedStep:
    kind: str
    approver: object | None = None
    group: object | None = None
    rule: ApprovalRule | None = None
    sla_hours: int = DEFAULT_SLA_HOURS
    delegated_from: object | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Facts:
    """What rules match on, gathered once."""

    department_id: int | None
    project_ids: set[int]
    category_ids: set[int]
    cost_centre_ids: set[int]
    amount_base: object
    projects: list = field(default_factory=list)
    cost_centres: list = field(default_factory=list)


def gather_facts(expense, lines: list | None = None) -> Facts:
    """The facts of ``expense``; ``lines``: its stored lines with allocations, projects and
    cost centres (``policy.stored_lines``) when the caller has them."""
    projects, cost_centres, categories = {}, {}, set()
    if lines is None:
        from controlplane.expenses.policy import stored_lines

        lines = stored_lines(expense)
    for line in lines:
        categories.add(line.category_id)
        for alloc in line.allocations.all():
            if alloc.project_id:
                projects[alloc.project_id] = alloc.project
            if alloc.cost_centre_id:
                cost_centres[alloc.cost_centre_id] = alloc.cost_centre
    employee = expense.employee
    if employee.cost_centre_id and not cost_centres:
        cost_centres[employee.cost_centre_id] = employee.cost_centre
    return Facts(
        department_id=employee.department_id, project_ids=set(projects), category_ids=categories,
        cost_centre_ids=set(cost_centres) | ({employee.cost_centre_id} if employee.cost_centre_id else set()),
        amount_base=expense.total_amount_base, projects=list(projects.values()),
        cost_centres=list(cost_centres.values()),
    )


def rule_matches(rule: ApprovalRule, facts: Facts) -> bool:
    """All set conditions match; amount bounds are ``[min, max)`` in base currency."""
    if rule.department_id and rule.department_id != facts.department_id:
        return False
    if rule.project_id and rule.project_id not in facts.project_ids:
        return False
    if rule.category_id and rule.category_id not in facts.category_ids:
        return False
    if rule.cost_centre_id and rule.cost_centre_id not in facts.cost_centre_ids:
        return False
    if rule.min_amount is not None or rule.max_amount is not None:
        if facts.amount_base is None:
            return False
        if rule.min_amount is not None and facts.amount_base < rule.min_amount:
            return False
        if rule.max_amount is not None and facts.amount_base >= rule.max_amount:
            return False
    return True


def entity_policy(legal_entity_id: int) -> tuple[ApprovalPolicy | None, list[ApprovalRule]]:
    """The entity's active policy and its active rules in order, steps prefetched (memoized
    within a bulk call)."""
    def load():
        policy = ApprovalPolicy.objects.filter(legal_entity_id=legal_entity_id, active=True).first()
        if policy is None:
            return None, []
        return policy, list(policy.rules.filter(active=True).prefetch_related("steps").order_by("order", "id"))

    return memoized(("approval_policy", legal_entity_id), load)


def matching_rules(rules: list[ApprovalRule], facts: Facts) -> list[ApprovalRule]:
    """The rules, in order, that match ``facts`` (up to the first matching ``stop_processing``)."""
    matched = []
    for rule in rules:
        if rule_matches(rule, facts):
            matched.append(rule)
            if rule.stop_processing:
                break
    return matched


def _candidates(kind: str, template, expense, facts: Facts) -> list:
    """The approver(s) a step template names before the skip rules (one per project /
    cost centre for owner steps; one per level for a manager chain)."""
    employee = expense.employee
    if kind == StepKind.MANAGER:
        return [employee.manager]
    if kind == StepKind.MANAGER_CHAIN:
        levels = max(1, template.levels if template else 1)
        chain = manager_chain(employee, levels=levels)
        return chain + [None] * (levels - len(chain))
    if kind == StepKind.DEPARTMENT_HEAD:
        return [employee.department.head if employee.department_id else None]
    if kind == StepKind.PROJECT_OWNER:
        return [p.owner for p in facts.projects]
    if kind == StepKind.COST_CENTRE_OWNER:
        return [c.owner for c in facts.cost_centres]
    if kind == StepKind.EMPLOYEE:
        return [template.employee]
    return []


def plan_chain(expense, *, at: dt.datetime, lines: list | None = None) -> list[PlannedStep]:
    """The ordered steps for ``expense`` as of ``at`` (delegations active at ``at`` apply).
    Raises :class:`ValidationFailed` (field ``approval``) when nobody can approve. ``lines``:
    the expense's stored lines (``policy.stored_lines``) when the caller has them."""
    from controlplane.approvals.selectors import active_delegate

    policy, rules = entity_policy(expense.legal_entity_id)
    facts = gather_facts(expense, lines)
    sla_default = policy.default_sla_hours if policy else DEFAULT_SLA_HOURS
    templates: list[tuple[str, object, ApprovalRule | None]] = []
    for rule in matching_rules(rules, facts):
        for step in rule.steps.all():
            templates.append((step.kind, step, rule))
    if not templates:
        templates = [(StepKind.MANAGER, None, None)]
    submitter = expense.employee
    used: set[int] = {submitter.pk}
    groups_used: set[int] = set()
    plan: list[PlannedStep] = []
    for kind, template, rule in templates:
        sla = (template.sla_hours if template and template.sla_hours else None) or sla_default
        if kind == StepKind.GROUP:
            if template.group_id not in groups_used:
                groups_used.add(template.group_id)
                plan.append(PlannedStep(kind=kind, group=template.group, rule=rule, sla_hours=sla))
            continue
        for candidate in _candidates(kind, template, expense, facts):
            step = PlannedStep(kind=kind, rule=rule, sla_hours=sla)
            person = _eligible(candidate, used, step.notes, start=submitter)
            if person is None:
                group = policy.fallback_group if policy else None
                if group is None:
                    raise ValidationFailed("No one can approve this expense.", [FieldProblem(
                        "approval", "no_approver",
                        f"Routing step '{StepKind(kind).label}' found no eligible approver and the policy "
                        "has no fallback group.")], code="no_approver")
                if group.pk not in groups_used:
                    groups_used.add(group.pk)
                    step.group = group
                    step.notes.append("hierarchy exhausted: fallback group")
                    plan.append(step)
                continue
            delegate = active_delegate(person, at=at)
            if delegate is not None and delegate.pk not in used and delegate.active:
                step.delegated_from = person
                step.notes.append(f"delegated by {person} to {delegate}")
                person = delegate
            used.add(person.pk)
            step.approver = person
            plan.append(step)
    return plan


def _eligible(candidate, used: set[int], notes: list[str], *, start):
    """``candidate``, or the first manager above it who is not the submitter, not already in
    the chain and active. A missing candidate starts from the submitter's manager."""
    person = candidate if candidate is not None else start.manager
    seen: set[int] = set()
    while person is not None and person.pk not in seen:
        if person.pk not in used and person.active:
            return person
        seen.add(person.pk)
        why = "the submitter" if person.pk == start.pk else ("inactive" if not person.active else "already in the chain")
        notes.append(f"skipped {person} ({why})")
        person = person.manager
    return None
