"""Segregation of duties: who counts as "the same person", and how a refusal is recorded.

A person may act as an employee record, a Django user, or both (an employee's ``user``).
Comparisons use both identities so a user cannot slip past a rule by acting under the other.
A refused action raises :class:`SodRefusal` inside the service's transaction; the service
turns it, after that transaction is rolled back, into an ``sod_conflict`` exception record
(which therefore survives) and a ``NotAllowed(code="sod_violation")``.
"""

from __future__ import annotations

from django.db import transaction

from controlplane.core.actors import Actor
from controlplane.core.errors import NotAllowed


class SodRefusal(Exception):
    def __init__(self, message: str, *, rule: str, expense, person: str = ""):
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.expense = expense
        self.person = person


def person_keys(person) -> set[tuple[str, int]]:
    """``{("e", employee id), ("u", user id)}`` for an Employee or a User (either may be None)."""
    if person is None:
        return set()
    from controlplane.masterdata.models import Employee

    keys: set[tuple[str, int]] = set()
    if isinstance(person, Employee):
        keys.add(("e", person.pk))
        if person.user_id:
            keys.add(("u", person.user_id))
        return keys
    if getattr(person, "pk", None) is not None:
        keys.add(("u", person.pk))
        employee = Employee.objects.filter(user_id=person.pk).only("pk").first()
        if employee is not None:
            keys.add(("e", employee.pk))
    return keys


def same_person(a: set, b: set) -> bool:
    return bool(a & b)


def record_refusal(actor: Actor, refusal: SodRefusal) -> NotAllowed:
    """Open (idempotently) the ``sod_conflict`` exception in its own transaction and return
    the error to raise. Call it after the refused transaction has ended."""
    from controlplane.exceptions.models import ExceptionKind, Severity
    from controlplane.exceptions.services import exception_open

    expense = refusal.expense
    with transaction.atomic():
        record = exception_open(
            actor=actor,
            kind=ExceptionKind.SOD_CONFLICT,
            severity=Severity.HIGH,
            title=f"Segregation of duties: {refusal.rule} on expense {expense.public_id}",
            detail=refusal.message,
            subject=expense,
            legal_entity=expense.legal_entity,
            department=expense.employee.department,
            system=actor.system if getattr(actor.system, "_meta", None) else None,
            payload={"rule": refusal.rule, "person": refusal.person, "actor": actor.label()},
            dedupe_key=f"sod:{expense.pk}:{refusal.rule}:{refusal.person}",
        )
    error = NotAllowed(refusal.message, code="sod_violation")
    error.exception_id = record.pk
    return error
