"""Inbound webhooks from expense platforms (Standard Webhooks).

``inbound_webhook_receive`` verifies the signature on the raw body, refuses stale
timestamps, stores the message raw (unique per system and ``webhook-id``: a replay is
recognised and not processed again) and enqueues an ``inbound.process`` outbox job in the
same transaction. The job runs the message through the same services as the API.

The system's secrets live in its encrypted credentials: ``{"webhook_secrets": ["whsec_…", …]}``
(several during a rotation) or ``{"webhook_secret": "whsec_…"}``.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from controlplane.api.models import InboundWebhook
from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor
from controlplane.core.correlation import get_correlation_id
from controlplane.core.errors import DomainError, NotFound
from integrations.webhooks import WebhookVerificationError, verify

OPERATION = "inbound.process"
_KEPT_HEADERS = ("content-type", "user-agent", "webhook-id", "webhook-timestamp")


class SignatureRefused(DomainError):
    def __init__(self, message: str, code: str):
        super().__init__(message=message, code=code, status=401)


def webhook_secrets(system: ExternalSystem) -> list[str]:
    values = system.credential_values()
    found = values.get("webhook_secrets") or ([values["webhook_secret"]] if values.get("webhook_secret") else [])
    return [s for s in found if isinstance(s, str) and s]


def inbound_webhook_receive(*, system_code: str, headers, body: bytes) -> tuple[InboundWebhook, bool]:
    """Verify and store one message; returns ``(row, created)`` (``created`` False for a replayed id).

    Raises ``NotFound`` for an unknown or disabled system, ``SignatureRefused`` (401) when the
    signature, timestamp or headers do not verify.
    """
    system = ExternalSystem.objects.filter(code=system_code, enabled=True, kind="expense_platform").first()
    secrets = webhook_secrets(system) if system is not None else []
    if not secrets:
        raise NotFound("No webhook endpoint here.")
    try:
        msg_id = verify(secrets, headers, body)
    except WebhookVerificationError as exc:
        raise SignatureRefused(str(exc), code=f"webhook_{exc.code}") from exc
    from controlplane.sync.services import outbox_enqueue

    kept = {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS}
    stamp = dt.datetime.fromtimestamp(int(kept.get("webhook-timestamp") or kept.get("Webhook-Timestamp")), tz=dt.UTC)
    actor = Actor(system=system, reason="inbound webhook")
    try:
        with transaction.atomic():
            row = InboundWebhook.objects.create(
                system=system, webhook_id=msg_id[:255], webhook_timestamp=stamp, headers=kept, body=body,
                correlation_id=get_correlation_id(),
            )
            outbox_enqueue(actor=actor, target=None, operation=OPERATION, subject=row,
                           payload={"inbound_webhook_id": row.pk}, idempotency_key=f"{OPERATION}:{row.pk}")
    except IntegrityError:
        return InboundWebhook.objects.get(system=system, webhook_id=msg_id[:255]), False
    return row, True
