"""API access: hashed bearer tokens per external system, idempotency records, inbound webhooks.

Idempotency records and inbound webhooks are immutable logs (the first is a response cache
kept for a day or two), so they carry no history; tokens do (their hash excluded).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped


class Scope(models.TextChoices):
    EXPENSES_READ = "expenses:read", "Read expenses"
    EXPENSES_WRITE = "expenses:write", "Create, amend and withdraw expenses, upload receipts"
    APPROVALS_WRITE = "approvals:write", "Decide approvals on behalf of approvers"
    FINANCE_WRITE = "finance:write", "Finance review"
    MASTERDATA_READ = "masterdata:read", "Read master data"
    MASTERDATA_WRITE = "masterdata:write", "Upsert master data owned by the system"
    PAYMENTS_WRITE = "payments:write", "Report payments (reimbursed)"
    EXCEPTIONS_READ = "exceptions:read", "Read exceptions"
    EXCEPTIONS_WRITE = "exceptions:write", "Resolve exceptions"
    EVENTS_MANAGE = "events:manage", "Manage event subscriptions"
    SYNC_REPLAY = "sync:replay", "Replay outbox jobs"


class ApiToken(TimeStamped):
    """A bearer token for one external system. Only a SHA-256 of the token is stored, with
    a short public prefix to find it; the clear token is shown once, at issue."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=128, blank=True)
    system = models.ForeignKey("connections.ExternalSystem", on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part of the token, for lookup and display.")
    token_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    legal_entities = models.ManyToManyField("masterdata.LegalEntity", blank=True, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=255, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = audit_history(excluded_fields=["token_hash", "last_used_at"])

    class Meta:
        ordering = ["system", "-created_at"]

    def __str__(self) -> str:
        return f"{self.system.code}:{self.prefix}…"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class IdempotencyRecord(models.Model):
    """The first response to ``(caller, key)``, replayed for later requests with the same key."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    caller = models.CharField(max_length=64, help_text="system:<id> or user:<id>")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    locked_until = models.DateTimeField(help_text="An in-progress claim older than this may be taken over.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="uniq_idempotency_caller_key")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"


class InboundWebhook(models.Model):
    """A verified webhook from an external system, stored raw, processed asynchronously."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    system = models.ForeignKey("connections.ExternalSystem", on_delete=models.PROTECT, related_name="inbound_webhooks")
    webhook_id = models.CharField(max_length=255)
    webhook_timestamp = models.DateTimeField()
    event_type = models.CharField(max_length=64, blank=True)
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["system", "webhook_id"], name="uniq_inbound_webhook_id")]

    def __str__(self) -> str:
        return f"{self.system.code}:{self.webhook_id}"
