"""Domain events and the webhook subscriptions that receive them.

A :class:`DomainEvent` is written in the same transaction as the change it describes
(``services.event_record``); each matching active :class:`Subscription` gets one
``webhook.deliver`` row in the sync outbox, which is the delivery record (attempts,
``not_before``, last error live there). Events are immutable, so they carry no history of
their own; subscriptions do.
"""

from __future__ import annotations

import base64
import secrets
import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from controlplane.core.crypto import EncryptedTextField
from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped


class EventType(models.TextChoices):
    EXPENSE_SUBMITTED = "expense.submitted", "Expense submitted"
    EXPENSE_AMENDED = "expense.amended", "Expense amended"
    EXPENSE_WITHDRAWN = "expense.withdrawn", "Expense withdrawn"
    EXPENSE_STEP_APPROVED = "expense.step_approved", "Approval step approved"
    EXPENSE_APPROVED = "expense.approved", "Expense approved (all steps)"
    EXPENSE_RETURNED = "expense.returned", "Expense returned"
    EXPENSE_REJECTED = "expense.rejected", "Expense rejected"
    EXPENSE_FINANCE_REVIEWED = "expense.finance_reviewed", "Expense finance-reviewed"
    EXPENSE_POSTED = "expense.posted", "Expense posted"
    EXPENSE_REIMBURSED = "expense.reimbursed", "Expense reimbursed"
    EXPENSE_ARCHIVED = "expense.archived", "Expense archived"
    EXCEPTION_OPENED = "exception.opened", "Exception opened"
    EXCEPTION_RESOLVED = "exception.resolved", "Exception resolved"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class DomainEvent(models.Model):
    """Something that happened to a subject, as subscribers will see it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=64, choices=EventType.choices, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    subject = GenericForeignKey("content_type", "object_id")
    legal_entity = models.ForeignKey(
        "masterdata.LegalEntity", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The system the subject came from (an expense's source platform): platforms only hear
    # about their own records.
    source_system = models.ForeignKey(
        "connections.ExternalSystem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(db_index=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.content_type.model}#{self.object_id}"

    @property
    def message_id(self) -> str:
        """The Standard Webhooks ``webhook-id``: stable across retries of this event."""
        return f"msg_{self.public_id.hex}"


class Subscription(TimeStamped):
    """An endpoint of an external system that receives some event types, signed with its
    own secret (encrypted at rest, shown once at creation and rotation)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    system = models.ForeignKey("connections.ExternalSystem", on_delete=models.CASCADE, related_name="subscriptions")
    url = models.URLField(max_length=500)
    event_types = models.JSONField(default=list, help_text="Event type names; [\"*\"] for every type.")
    legal_entities = models.ManyToManyField(
        "masterdata.LegalEntity", blank=True, related_name="+", help_text="Entities whose events this endpoint may receive."
    )
    secret = EncryptedTextField(default=new_webhook_secret)
    # During a rotation the previous secret keeps signing too (several signatures), until it expires.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True, db_index=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    failure_count = models.PositiveIntegerField(default=0, help_text="Consecutive failed deliveries.")
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    history = audit_history(excluded_fields=["secret", "previous_secret"])

    class Meta:
        ordering = ["system", "url"]

    def __str__(self) -> str:
        return f"{self.system.code} → {self.url}"

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types
