"""Services for exception records: open (idempotent per dedupe key), assign, resolve,
override with justification, dismiss. Every call names its actor and leaves history."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django_fsm import TransitionNotAllowed

from controlplane.core.actors import Actor, acting
from controlplane.core.errors import Conflict
from controlplane.exceptions.models import ExceptionKind, ExceptionRecord, ExceptionStatus, Severity


def exception_open(
    *,
    actor: Actor,
    kind: str,
    title: str,
    detail: str = "",
    severity: str = Severity.MEDIUM,
    subject: models.Model | None = None,
    legal_entity=None,
    department=None,
    system=None,
    payload: dict[str, Any] | None = None,
    dedupe_key: str = "",
) -> ExceptionRecord:
    """Open an exception, or return the active one with the same ``dedupe_key``.

    Safe to call twice (retries, redelivered tasks): at most one active exception exists per
    non-empty dedupe key, enforced by a partial unique constraint.
    """
    assert kind in ExceptionKind.values, kind
    if dedupe_key:
        existing = ExceptionRecord.objects.filter(dedupe_key=dedupe_key, status__in=ExceptionStatus.active()).first()
        if existing:
            return existing
    record = ExceptionRecord(
        kind=kind,
        severity=severity,
        title=title[:255],
        detail=detail,
        legal_entity=legal_entity,
        department=department,
        system=system,
        payload=payload or {},
        dedupe_key=dedupe_key[:255],
    )
    if subject is not None:
        record.content_type = ContentType.objects.get_for_model(subject)
        record.object_id = str(subject.pk)
    with acting(actor, actor.reason or f"exception opened: {kind}"):
        try:
            with transaction.atomic():
                record.save()
                _publish(actor, "exception.opened", record)
        except IntegrityError:
            if not dedupe_key:
                raise
            # Another transaction opened it first; theirs is the one.
            return ExceptionRecord.objects.get(dedupe_key=dedupe_key, status__in=ExceptionStatus.active())
    return record


def _publish(actor: Actor, event_type: str, record: ExceptionRecord) -> None:
    """Record the domain event for subscribers (compliance archive, reporting) in the same
    transaction as the change."""
    from controlplane.events.services import event_record

    event_record(
        actor=actor, event_type=event_type, subject=record, legal_entity=record.legal_entity,
        payload={
            "exception_id": record.pk, "kind": record.kind, "severity": record.severity,
            "status": record.status, "title": record.title, "system": record.system.code if record.system else None,
            "object_type": record.content_type.model if record.content_type_id else None,
            "object_id": record.object_id or None, "resolution": record.resolution or None,
        },
    )


def _transition(record_id: int, actor: Actor, reason: str, apply) -> ExceptionRecord:
    with transaction.atomic(), acting(actor, reason):
        record = ExceptionRecord.objects.select_for_update().get(pk=record_id)
        was_active = record.is_active
        try:
            apply(record)
        except TransitionNotAllowed as exc:
            raise Conflict(f"Exception {record.pk} is {record.status}; this action is not possible.",
                           code="exception_state") from exc
        record.save()
        if was_active and not record.is_active:
            _publish(actor, "exception.resolved", record)
    return record


def exception_assign(*, actor: Actor, exception_id: int, assignee=None) -> ExceptionRecord:
    """Assign to ``assignee`` (the acting user when None); an open exception moves to in progress."""
    who = assignee or actor.user

    def apply(record: ExceptionRecord) -> None:
        record.assignee = who
        if record.status == ExceptionStatus.OPEN:
            record.start(by=who)

    return _transition(exception_id, actor, f"assigned to {getattr(who, 'username', who)}", apply)


def exception_resolve(*, actor: Actor, exception_id: int, note: str = "") -> ExceptionRecord:
    record = _transition(exception_id, actor, note or "resolved", lambda r: r.resolve(by=actor.user, note=note))
    return record


def exception_override(*, actor: Actor, exception_id: int, justification: str) -> ExceptionRecord:
    """Close as overridden; refused with a field error unless ``justification`` is written."""
    record = _transition(
        exception_id, actor, f"overridden: {justification}",
        lambda r: r.override(by=actor.user, justification=justification),
    )
    return record


def exception_dismiss(*, actor: Actor, exception_id: int, reason: str = "") -> ExceptionRecord:
    record = _transition(exception_id, actor, reason or "dismissed", lambda r: r.dismiss(by=actor.user, reason=reason))
    return record
