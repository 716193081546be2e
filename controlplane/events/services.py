"""Recording domain events and managing webhook subscriptions.

``event_record`` is called by other apps' services inside their transactions; it never sends
anything: delivery is a ``webhook.deliver`` outbox row per matching subscription, run by the
sync engine after commit (``controlplane.events.handlers``).
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from controlplane.core.actors import Actor, acting
from controlplane.core.correlation import get_correlation_id
from controlplane.core.errors import FieldProblem, NotFound, ValidationFailed
from controlplane.core.memo import memoized
from controlplane.events.models import DomainEvent, EventType, Subscription, new_webhook_secret

DELIVER_OPERATION = "webhook.deliver"
# How long the previous secret keeps signing after a rotation (receivers switch over meanwhile).
ROTATION_OVERLAP = timedelta(hours=24)
# Consecutive failed deliveries after which an endpoint is disabled.
DISABLE_AFTER_FAILURES = 20


def _jsonable(payload: dict) -> dict:
    # Decimals, dates and UUIDs become strings now, so the stored payload is what is sent.
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def _subject_system(subject: models.Model):
    for attname in ("source_system", "system"):
        value = getattr(subject, attname, None)
        if value is not None and getattr(value, "_meta", None) and value._meta.label == "connections.ExternalSystem":
            return value
    return None


def matching_subscriptions(event: DomainEvent) -> list[Subscription]:
    """Active subscriptions of enabled systems that may receive ``event``.

    Scope: the event's entity must be among the subscription's entities; an expense
    platform only hears about records it sent; an event without entity only reaches the
    system its subject came from.
    """
    qs = Subscription.objects.filter(active=True, system__enabled=True).select_related("system")
    if event.legal_entity_id is not None:
        key = ("subscriptions", "entity", event.legal_entity_id)
        qs = qs.filter(legal_entities=event.legal_entity_id)
    elif event.source_system_id is not None:
        key = ("subscriptions", "system", event.source_system_id)
        qs = qs.filter(system_id=event.source_system_id)
    else:
        return []
    found = []
    # Within a bulk call the candidates are read once (core.memo), then filtered per event.
    for sub in memoized(key, lambda: list(qs)):
        if not sub.wants(event.event_type):
            continue
        if sub.system.kind == "expense_platform" and sub.system_id != event.source_system_id:
            continue
        found.append(sub)
    return found


def event_record(*, actor: Actor, event_type: str, subject: models.Model, payload: dict, legal_entity=None) -> DomainEvent:
    """Record a domain event in the caller's transaction and one ``webhook.deliver`` outbox
    row per active subscription that wants it. Never sends anything itself.

    ``legal_entity`` defaults to ``subject.legal_entity`` when the subject has one.
    """
    from controlplane.sync.services import outbox_enqueue  # the sync app registers the outbox

    if event_type not in EventType.values:
        raise ValueError(f"unknown event type {event_type!r}")
    if legal_entity is None:
        legal_entity = getattr(subject, "legal_entity", None)
    # No savepoint of its own: inside the caller's transaction (the usual case) a failure here
    # undoes the caller's whole atomic block anyway; outside one this is a transaction.
    with acting(actor), transaction.atomic(savepoint=False):
        event = DomainEvent.objects.create(
            event_type=event_type,
            content_type=ContentType.objects.get_for_model(subject, for_concrete_model=False),
            object_id=str(subject.pk),
            legal_entity=legal_entity,
            source_system=_subject_system(subject),
            payload=_jsonable(payload),
            occurred_at=timezone.now(),
            correlation_id=get_correlation_id(),
            actor_label=actor.label()[:255],
        )
        for sub in matching_subscriptions(event):
            outbox_enqueue(
                actor=actor,
                target=sub.system,
                operation=DELIVER_OPERATION,
                subject=event,
                payload={"event_id": event.pk, "subscription_id": sub.pk},
                idempotency_key=f"{DELIVER_OPERATION}:{event.pk}:{sub.pk}",
                correlation_id=event.correlation_id or None,
            )
    return event


def event_envelope(event: DomainEvent) -> dict:
    """The JSON body subscribers receive (Standard Webhooks' recommended shape)."""
    return {
        "type": event.event_type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "event_id": str(event.public_id),
            "subject": {"type": event.content_type.model, "id": event.payload.get("id", event.object_id)},
            "legal_entity": event.legal_entity.code if event.legal_entity_id else None,
            "correlation_id": event.correlation_id,
            **event.payload,
        },
    }


def _validate_subscription(url: str, event_types: list[str]) -> None:
    problems = []
    if not url.startswith("https://") and not url.startswith("http://"):
        problems.append(FieldProblem("url", "invalid_url", "The URL must be http(s)."))
    unknown = [t for t in event_types if t != "*" and t not in EventType.values]
    if unknown:
        problems.append(FieldProblem("event_types", "unknown_event_type", f"Unknown event types: {', '.join(unknown)}."))
    if not event_types:
        problems.append(FieldProblem("event_types", "required", "Name at least one event type, or \"*\"."))
    if problems:
        raise ValidationFailed(errors=problems)


@transaction.atomic
def subscription_create(*, actor: Actor, system, url: str, event_types: list[str], legal_entities) -> Subscription:
    """A new active subscription with a fresh secret (read ``.secret`` once to show it)."""
    _validate_subscription(url, event_types)
    with acting(actor, "subscription created"):
        sub = Subscription.objects.create(system=system, url=url, event_types=sorted(set(event_types)))
        sub.legal_entities.set(legal_entities)
    return sub


def _locked(subscription_id: int) -> Subscription:
    try:
        return Subscription.objects.select_for_update().get(pk=subscription_id)
    except Subscription.DoesNotExist as exc:
        raise NotFound("No such subscription.") from exc


@transaction.atomic
def subscription_rotate_secret(*, actor: Actor, subscription_id: int) -> Subscription:
    """A new secret; the old one keeps signing beside it for :data:`ROTATION_OVERLAP`."""
    sub = _locked(subscription_id)
    with acting(actor, "secret rotated"):
        sub.previous_secret = sub.secret
        sub.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
        sub.secret = new_webhook_secret()
        sub.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return sub


@transaction.atomic
def subscription_disable(*, actor: Actor, subscription_id: int, reason: str) -> Subscription:
    """Stop deliveries to this endpoint (pending outbox rows fail permanently when they run)."""
    sub = _locked(subscription_id)
    with acting(actor, f"disabled: {reason}"):
        sub.active = False
        sub.disabled_reason = reason[:255]
        sub.save(update_fields=["active", "disabled_reason", "updated_at"])
    return sub


@transaction.atomic
def subscription_record_delivery(*, actor: Actor, subscription_id: int, ok: bool, disable_reason: str = "") -> Subscription:
    """Count a delivery outcome; disables the endpoint on ``disable_reason`` or after
    :data:`DISABLE_AFTER_FAILURES` consecutive failures.

    Counters are operational data written with bare updates; only disabling is an audited change.
    """
    sub = _locked(subscription_id)
    now = timezone.now()
    if ok:
        Subscription.objects.filter(pk=sub.pk).update(failure_count=0, last_success_at=now)
        sub.failure_count, sub.last_success_at = 0, now
        return sub
    sub.failure_count += 1
    sub.last_failure_at = now
    Subscription.objects.filter(pk=sub.pk).update(failure_count=sub.failure_count, last_failure_at=now)
    if not disable_reason and sub.failure_count >= DISABLE_AFTER_FAILURES:
        disable_reason = f"{sub.failure_count} consecutive failed deliveries"
    if disable_reason and sub.active:
        with acting(actor, f"disabled: {disable_reason}"):
            sub.active = False
            sub.disabled_reason = disable_reason[:255]
            sub.save(update_fields=["active", "disabled_reason", "updated_at"])
    return sub


def signing_secrets(sub: Subscription) -> list[str]:
    """The secrets that sign a delivery now: the current one, plus the previous one during a rotation."""
    found = [sub.secret]
    if sub.previous_secret and sub.previous_secret_expires_at and sub.previous_secret_expires_at > timezone.now():
        found.append(sub.previous_secret)
    return found
