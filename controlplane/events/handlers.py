"""``webhook.deliver``: POST one event to one subscription, signed (Standard Webhooks).

2xx → delivered. 410 → permanent, and the endpoint is disabled. 429, 5xx and network errors
→ retry on Standard Webhooks' schedule (honouring ``Retry-After``). Any other 4xx →
permanent. Each failure counts towards disabling the endpoint.
"""

from __future__ import annotations

import json

import requests
from django.core.serializers.json import DjangoJSONEncoder

from controlplane.core.actors import Actor
from controlplane.events.models import DomainEvent, Subscription
from controlplane.events.services import (
    DELIVER_OPERATION,
    event_envelope,
    signing_secrets,
    subscription_record_delivery,
)
from integrations.webhooks import signature_headers

TIMEOUT_SECONDS = 15
RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]
_WORKER = Actor(system=None, reason="webhook delivery")


def event_body(event: DomainEvent) -> bytes:
    """The exact bytes sent for ``event`` (the same on every retry)."""
    return json.dumps(event_envelope(event), cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


def deliver(job) -> object:
    """Deliver one job; returns a ``JobOutcome``."""
    from controlplane.sync.registry import JobOutcome

    sub = Subscription.objects.select_related("system").filter(pk=job.payload.get("subscription_id")).first()
    event = DomainEvent.objects.select_related("legal_entity", "content_type").filter(pk=job.payload.get("event_id")).first()
    if sub is None or event is None:
        return JobOutcome.cancel("subscription or event no longer exists")
    if not sub.active or not sub.system.enabled:
        return JobOutcome.cancel(f"subscription disabled: {sub.disabled_reason or 'system disabled'}")
    body = event_body(event)
    headers = {"Content-Type": "application/json", "User-Agent": "controlplane-webhooks/1",
               **signature_headers(signing_secrets(sub), event.message_id, body)}
    summary = {"url": sub.url, "webhook_id": event.message_id, "event_type": event.event_type}
    try:
        response = requests.post(sub.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        subscription_record_delivery(actor=_WORKER, subscription_id=sub.pk, ok=False)
        return JobOutcome.retry(exc, request_summary=summary)
    status = response.status_code
    if 200 <= status < 300:
        subscription_record_delivery(actor=_WORKER, subscription_id=sub.pk, ok=True)
        return JobOutcome.ok({"status": status}, request_summary=summary)
    error = f"HTTP {status} from {sub.url}"
    if status == 410:
        subscription_record_delivery(actor=_WORKER, subscription_id=sub.pk, ok=False,
                                     disable_reason="endpoint answered 410 Gone")
        return JobOutcome.permanent(error, request_summary=summary)
    sub = subscription_record_delivery(actor=_WORKER, subscription_id=sub.pk, ok=False)
    if status == 429 or status >= 500:
        return JobOutcome.retry(error, retry_after=_retry_after(response), request_summary=summary)
    return JobOutcome.permanent(error, request_summary=summary)


def deliver_batch(jobs) -> dict:
    return {job.pk: deliver(job) for job in jobs}


def register() -> None:
    from controlplane.sync import registry

    registry.register(DELIVER_OPERATION, handler=deliver_batch, queue="webhooks", batch_size=1,
                      max_attempts=len(RETRY_SCHEDULE) + 1, retry_schedule=RETRY_SCHEDULE)
