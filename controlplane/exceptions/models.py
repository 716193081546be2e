"""Exception records: anything that needs a person.

Lifecycle ``open → in_progress → resolved | overridden | dismissed`` on a protected FSM
field; transitions only check guards and set fields, the services in ``services.py`` do the
rest. An override needs a written justification and, like every change, is in the history.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped


class ExceptionKind(models.TextChoices):
    VALIDATION = "validation", "Validation"
    MISSING_MAPPING = "missing_mapping", "Missing mapping"
    OWNERSHIP_CONFLICT = "ownership_conflict", "Ownership conflict"
    DUPLICATE_SUSPECTED = "duplicate_suspected", "Duplicate suspected"
    POSTING_FAILED = "posting_failed", "Posting failed"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    RECONCILIATION_MISMATCH = "reconciliation_mismatch", "Reconciliation mismatch"
    SOD_CONFLICT = "sod_conflict", "Segregation-of-duties conflict"
    AMENDMENT_AFTER_POSTING = "amendment_after_posting", "Amendment after posting"
    SYNC_DEAD = "sync_dead", "Synchronisation dead-lettered"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    OVERRIDDEN = "overridden", "Overridden"
    DISMISSED = "dismissed", "Dismissed"

    @classmethod
    def active(cls) -> tuple[str, ...]:
        return (cls.OPEN, cls.IN_PROGRESS)

    @classmethod
    def closed(cls) -> tuple[str, ...]:
        return (cls.RESOLVED, cls.OVERRIDDEN, cls.DISMISSED)


class ExceptionRecord(ConcurrentTransitionMixin, FSMModelMixin, TimeStamped):
    kind = models.CharField(max_length=32, choices=ExceptionKind.choices, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MEDIUM, db_index=True)
    status = FSMField(default=ExceptionStatus.OPEN, choices=ExceptionStatus.choices, protected=True, db_index=True)
    title = models.CharField(max_length=255)
    detail = models.TextField(blank=True)
    legal_entity = models.ForeignKey(
        "masterdata.LegalEntity", null=True, blank=True, on_delete=models.SET_NULL, related_name="exceptions"
    )
    department = models.ForeignKey(
        "masterdata.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="exceptions"
    )
    system = models.ForeignKey(
        "connections.ExternalSystem", null=True, blank=True, on_delete=models.SET_NULL, related_name="exceptions"
    )
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    object_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("content_type", "object_id")
    payload = models.JSONField(default=dict, blank=True, help_text="The payload as received.")
    dedupe_key = models.CharField(
        max_length=255, blank=True, help_text="While an exception with this key is open, opening it again returns it."
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_exceptions"
    )
    resolution = models.TextField(blank=True, help_text="Resolution note, override justification or dismissal reason.")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = audit_history()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(status__in=["open", "in_progress"]) & ~models.Q(dedupe_key=""),
                name="uniq_active_exception_dedupe",
            )
        ]
        indexes = [models.Index(fields=["status", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"[{self.get_kind_display()}] {self.title}"

    @transition(field=status, source=ExceptionStatus.OPEN, target=ExceptionStatus.IN_PROGRESS)
    def start(self, *, by=None) -> None:
        if by is not None:
            self.assignee = by

    @transition(field=status, source=list(ExceptionStatus.active()), target=ExceptionStatus.RESOLVED)
    def resolve(self, *, by=None, note: str = "") -> None:
        self._close(by, note)

    @transition(field=status, source=list(ExceptionStatus.active()), target=ExceptionStatus.OVERRIDDEN)
    def override(self, *, by=None, justification: str = "") -> None:
        if len(justification.strip()) < 10:
            # Raising inside the transition leaves the state unchanged: the guard.
            raise ValidationFailed(
                "An override needs a written justification.",
                [FieldProblem("justification", "required", "Explain in at least 10 characters why this is overridden.")],
            )
        self._close(by, justification.strip())

    @transition(field=status, source=list(ExceptionStatus.active()), target=ExceptionStatus.DISMISSED)
    def dismiss(self, *, by=None, reason: str = "") -> None:
        self._close(by, reason)

    def _close(self, by, text: str) -> None:
        self.resolution = text
        self.closed_by = by
        self.closed_at = timezone.now()

    @property
    def is_active(self) -> bool:
        return self.status in ExceptionStatus.active()
