"""The transactional outbox: one ``OutboxJob`` per outbound operation, one ``SyncAttempt``
per try, a ``SyncPolicy`` per operation (real time or batch windows) and a ``TargetGate``
per external system (calls in flight and per second).

The database is the queue of record; the broker only wakes workers. A job's state lives on a
protected FSM field. Workers *claim* rows with a conditional ``UPDATE`` (atomic on SQLite and
PostgreSQL alike, see ``dispatch.claim``), which bypasses the FSM on purpose: the claim is the
hot path and is recorded by the ``SyncAttempt`` written when the try ends. Every other change
goes through a transition and ``save()`` (history row, optimistic concurrency on the state).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped


class JobState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    RETRY_WAIT = "retry_wait", "Waiting to retry"
    SUCCEEDED = "succeeded", "Succeeded"
    DEAD = "dead", "Dead (needs a person)"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def due(cls) -> tuple[str, ...]:
        """States a worker may claim once ``next_attempt_at`` has passed."""
        return (cls.PENDING, cls.RETRY_WAIT)

    @classmethod
    def terminal(cls) -> tuple[str, ...]:
        return (cls.SUCCEEDED, cls.DEAD, cls.CANCELLED)

    @classmethod
    def replayable(cls) -> tuple[str, ...]:
        """States a person may send back to ``pending`` (dead letters, cancelled rows, and
        rows waiting to retry that should go now)."""
        return (cls.DEAD, cls.CANCELLED, cls.RETRY_WAIT)


class OutboxJob(ConcurrentTransitionMixin, FSMModelMixin, TimeStamped):
    """One outbound operation, written in the same transaction as the business change."""

    target = models.ForeignKey(
        "connections.ExternalSystem", null=True, blank=True, on_delete=models.PROTECT, related_name="outbox_jobs"
    )
    operation = models.CharField(max_length=64, db_index=True, help_text="<area>.<verb>, e.g. odoo.post_expense")
    queue = models.CharField(max_length=32, default="default")
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    object_id = models.CharField(max_length=64, blank=True, default="")
    subject = GenericForeignKey("content_type", "object_id")
    payload = models.JSONField(default=dict, blank=True, help_text="Snapshot taken when the job was enqueued.")
    payload_sha256 = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255, unique=True)
    correlation_id = models.CharField(max_length=64, blank=True, default="", db_index=True)

    state = FSMField(default=JobState.PENDING, choices=JobState.choices, protected=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="", db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=128, blank=True, default="")
    kicked_at = models.DateTimeField(null=True, blank=True, help_text="Last time a worker was woken for it.")
    last_error_class = models.CharField(max_length=128, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    response_summary = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    replay_count = models.PositiveIntegerField(default=0)
    last_replay_reason = models.TextField(blank=True, default="")
    last_replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_replayed_at = models.DateTimeField(null=True, blank=True)

    # The payload never changes after enqueue (its hash stays in history as proof); the lease
    # and claim columns change on every try and are recorded by SyncAttempt instead.
    history = audit_history(
        excluded_fields=["payload", "lease_until", "claim_token", "claimed_at", "claimed_by", "kicked_at", "updated_at"]
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["operation", "target", "state", "next_attempt_at"], name="sync_job_due"),
            models.Index(fields=["state", "lease_until"], name="sync_job_lease"),
            models.Index(fields=["content_type", "object_id"], name="sync_job_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.operation}#{self.pk} [{self.state}]"

    # --- transitions: guards and fields only; services do the rest ---------------------
    @transition(field=state, source=JobState.IN_FLIGHT, target=JobState.SUCCEEDED)
    def succeed(self, *, summary: dict | None = None) -> None:
        self.response_summary = summary or {}
        self.last_error_class = ""
        self.last_error = ""
        self._release(finished=True)

    @transition(field=state, source=JobState.IN_FLIGHT, target=JobState.RETRY_WAIT)
    def schedule_retry(self, *, at, error_class: str, error: str) -> None:
        self.next_attempt_at = at
        self._fail(error_class, error)
        self._release(finished=False)

    @transition(field=state, source=JobState.IN_FLIGHT, target=JobState.RETRY_WAIT)
    def defer(self, *, at, reason: str) -> None:
        """The handler waited on something that ends by itself (another worker's live claim on
        the same business object): try again at ``at``. Not a failed try: the claim's
        attempt is given back, so waiting never uses up the job's tries."""
        self.attempts = max(0, self.attempts - 1)
        self.next_attempt_at = at
        self._fail("Deferred", reason)
        self._release(finished=False)

    @transition(field=state, source=[JobState.IN_FLIGHT, *JobState.due()], target=JobState.DEAD)
    def die(self, *, error_class: str, error: str) -> None:
        self._fail(error_class, error)
        self._release(finished=True)

    @transition(field=state, source=[JobState.IN_FLIGHT, *JobState.due()], target=JobState.CANCELLED)
    def cancel(self, *, reason: str) -> None:
        self._fail("Cancelled", reason)
        self._release(finished=True)

    @transition(field=state, source=list(JobState.replayable()), target=JobState.PENDING)
    def replay(self, *, by, reason: str, reset_attempts: bool, at) -> None:
        if reset_attempts:
            self.attempts = 0
        self.next_attempt_at = at
        self.finished_at = None
        self.replay_count += 1
        self.last_replay_reason = reason
        self.last_replayed_by = by
        self.last_replayed_at = at

    def _fail(self, error_class: str, error: str) -> None:
        self.last_error_class = error_class[:128]
        self.last_error = error[:4000]

    def _release(self, *, finished: bool) -> None:
        self.lease_until = None
        self.claim_token = ""
        if finished:
            self.finished_at = timezone.now()


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    RETRY = "retry", "Failed, will retry"
    PERMANENT = "permanent", "Failed permanently"
    CANCELLED = "cancelled", "Cancelled by the handler"
    DEFERRED = "deferred", "Deferred (waited; not counted as a try)"
    LOST = "lost", "Lost (worker died; lease expired)"
    STALE = "stale", "Finished after its lease was taken over"


class SyncAttempt(models.Model):
    """One try of one job. Written once, when the try ends (or when the relay finds its lease
    expired), so a try costs one insert; it is never updated afterwards."""

    job = models.ForeignKey(OutboxJob, on_delete=models.CASCADE, related_name="sync_attempts")
    number = models.PositiveIntegerField(help_text="The job's attempt counter for this try.")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, db_index=True)
    request_summary = models.JSONField(default=dict, blank=True)
    response_summary = models.JSONField(default=dict, blank=True)
    error_class = models.CharField(max_length=128, blank=True, default="")
    error = models.TextField(blank=True, default="")
    worker_id = models.CharField(max_length=128, blank=True, default="")
    correlation_id = models.CharField(max_length=64, blank=True, default="")
    history = audit_history()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["job", "number"], name="sync_attempt_job")]

    def __str__(self) -> str:
        return f"{self.job_id} try {self.number}: {self.outcome}"


class SyncMode(models.TextChoices):
    REALTIME = "realtime", "Real time (kicked on commit)"
    BATCH = "batch", "Batch windows (on a schedule)"


class SyncPolicy(TimeStamped):
    """How one operation is dispatched. ``batch`` operations wait for their window: the
    ``schedule`` PeriodicTask (django-celery-beat) runs ``run_batch_window_task(operation)``."""

    operation = models.CharField(max_length=64, unique=True)
    mode = models.CharField(max_length=16, choices=SyncMode.choices, default=SyncMode.REALTIME)
    batch_size = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rows per handler call; empty: the handler's registered default."
    )
    schedule = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_policy"
    )
    note = models.CharField(max_length=255, blank=True, default="")
    history = audit_history()

    class Meta:
        ordering = ["operation"]
        verbose_name_plural = "sync policies"

    def __str__(self) -> str:
        return f"{self.operation}: {self.mode}"


class TargetGate(models.Model):
    """Per external system: the lock row that serialises claims for it, a token bucket for
    calls per second, and a pause set by ``Retry-After``. Counters, not business data: no
    history (it changes on every claim)."""

    system = models.OneToOneField("connections.ExternalSystem", on_delete=models.CASCADE, related_name="sync_gate")
    tokens = models.FloatField(default=0)
    refilled_at = models.DateTimeField(null=True, blank=True)
    blocked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"gate for {self.system_id}"
