"""Suspected duplicates found by the policy checks become a person's work.

The checks flag a line that repeats another live expense of the same employee (date, amount,
merchant) or a receipt file already on another expense (``duplicate_line``,
``duplicate_receipt``: soft findings, shown to the approver). :func:`duplicates_report` also
opens a ``duplicate_suspected`` exception so that finance operations see it in their queue.
"""

from __future__ import annotations

from collections.abc import Iterable

from controlplane.core.actors import Actor
from controlplane.expenses.policy import Finding
from controlplane.expenses.states import CheckOutcome

DUPLICATE_CHECKS = ("duplicate_line", "duplicate_receipt")


def duplicate_exception_key(expense) -> str:
    """One active duplicate exception per expense, whatever its revision."""
    return f"duplicate_suspected:expense:{expense.pk}"


def duplicates_report(*, actor: Actor, expense, findings: Iterable[Finding]):
    """Open (or return the active) ``duplicate_suspected`` exception on ``expense`` when
    ``findings`` hold a duplicate; None otherwise. Called inside the submission's transaction:
    a refused submission leaves no exception behind."""
    from controlplane.exceptions.models import ExceptionKind, Severity
    from controlplane.exceptions.services import exception_open

    hits = [f for f in findings if f.code in DUPLICATE_CHECKS and f.outcome == CheckOutcome.SOFT]
    if not hits:
        return None
    return exception_open(
        actor=actor, kind=ExceptionKind.DUPLICATE_SUSPECTED, severity=Severity.MEDIUM,
        title=f"Possible duplicate: expense {expense.public_id} ({hits[0].message})",
        detail="\n".join(f"{f.field}: {f.message}" for f in hits),
        subject=expense, legal_entity=expense.legal_entity, system=expense.source_system,
        payload={"expense": str(expense.public_id), "revision": expense.revision,
                 "findings": [{"code": f.code, "field": f.field, "message": f.message} for f in hits]},
        dedupe_key=duplicate_exception_key(expense),
    )
