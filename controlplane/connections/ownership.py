"""System of record: the one check every write from outside goes through.

``ownership_check`` answers whether ``writer`` may write ``field_groups`` of ``object_kind``
(at ``stage``). The most specific rule wins: kind+group+stage, kind+group, kind+stage, kind.
With no rule at all the control plane owns the object. A refused write raises
:class:`OwnershipViolation` before anything is written; when the rule says so, an
ownership-conflict exception is opened first (in its own transaction, so it survives the
caller's rollback) carrying the payload as received.

Call it before opening the transaction that writes: an exception recorded inside a
transaction that is then rolled back would be rolled back with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from controlplane.connections.models import ExternalSystem, OwnershipRule
from controlplane.core.actors import Actor
from controlplane.core.errors import DomainError, FieldProblem
from controlplane.core.memo import memoized


class OwnershipViolation(DomainError):
    def __init__(self, message: str, errors=None, exception_id: int | None = None):
        super().__init__(message=message, code="not_system_of_record", status=409, errors=list(errors or []))
        self.exception_id = exception_id


def owner_of(object_kind: str, field_group: str = "", stage: str = "") -> OwnershipRule | None:
    """The rule that decides who owns ``object_kind`` / ``field_group`` / ``stage`` (read once
    per key within a bulk call, ``core.memo``)."""
    return memoized(("owner_of", object_kind, field_group, stage),
                    lambda: _owner_of(object_kind, field_group, stage))


def _owner_of(object_kind: str, field_group: str, stage: str) -> OwnershipRule | None:
    candidates = OwnershipRule.objects.select_related("owner").filter(
        object_kind=object_kind, field_group__in={"", field_group}, stage__in={"", stage}
    )

    def specificity(rule: OwnershipRule) -> tuple[int, int]:
        return (1 if rule.field_group else 0, 1 if rule.stage else 0)

    best = None
    for rule in candidates:
        if best is None or specificity(rule) > specificity(best):
            best = rule
    return best


def ownership_check(
    *,
    actor: Actor,
    writer: ExternalSystem | None,
    object_kind: str,
    field_groups: Iterable[str] = ("",),
    stage: str = "",
    payload: dict[str, Any] | None = None,
    subject=None,
    legal_entity=None,
) -> None:
    """Raise :class:`OwnershipViolation` unless ``writer`` owns every field group written.

    ``writer`` None is the control plane itself (finance operations, our own workers).
    """
    problems: list[FieldProblem] = []
    open_exception = False
    for group in field_groups or ("",):
        rule = owner_of(object_kind, group, stage)
        owner = rule.owner if rule else None
        if (owner.pk if owner else None) == (writer.pk if writer else None):
            continue
        owner_name = owner.code if owner else "the control plane"
        writer_name = writer.code if writer else "the control plane"
        scope = "/".join(p for p in (object_kind, group, stage) if p)
        problems.append(
            FieldProblem(group or object_kind, "not_system_of_record",
                         f"{scope} is owned by {owner_name}; {writer_name} may not write it.")
        )
        if rule is not None and rule.on_violation == OwnershipRule.OnViolation.EXCEPTION:
            open_exception = True
    if not problems:
        return
    exception_id = None
    if open_exception:
        exception_id = _open_conflict(actor, writer, object_kind, problems, payload, subject, legal_entity)
    raise OwnershipViolation(
        f"{writer.code if writer else 'The control plane'} is not the system of record for what it tried to write.",
        problems,
        exception_id,
    )


def _open_conflict(actor, writer, object_kind, problems, payload, subject, legal_entity) -> int:
    from controlplane.exceptions.models import ExceptionKind, Severity
    from controlplane.exceptions.services import exception_open

    # Callers run this check before opening their own transaction (see the module
    # docstring), so this commits on its own and outlives the refused write.
    with transaction.atomic():
        record = exception_open(
            actor=actor,
            kind=ExceptionKind.OWNERSHIP_CONFLICT,
            severity=Severity.MEDIUM,
            title=f"{writer.code if writer else 'controlplane'} wrote {object_kind} it does not own",
            detail="\n".join(p.message for p in problems),
            system=writer,
            subject=subject,
            legal_entity=legal_entity,
            payload=payload or {},
        )
    return record.pk
