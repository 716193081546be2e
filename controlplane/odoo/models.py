"""Integration state of the Odoo connection: import cursors, the posting ledger and
reconciliation runs. Business state stays on the business models (an expense knows it is
posted; which Odoo document holds it is here and in ``connections.Binding``)."""

from __future__ import annotations

from django.db import models

from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped


class ImportCursor(TimeStamped):
    """The high-water mark of the master-data import of one Odoo model kind from one system.

    ``watermark`` is the newest ``write_date`` read (UTC); the next run asks Odoo for records
    written after it. Each run saves the row, so its history is the log of import runs with
    their counts.
    """

    system = models.ForeignKey("connections.ExternalSystem", on_delete=models.CASCADE, related_name="odoo_cursors")
    kind = models.CharField(max_length=32, help_text="Importer kind, e.g. accounts, taxes, employees.")
    watermark = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_counts = models.JSONField(default=dict, blank=True)
    history = audit_history()

    class Meta:
        ordering = ["system", "kind"]
        constraints = [models.UniqueConstraint(fields=["system", "kind"], name="uniq_odoo_cursor")]

    def __str__(self) -> str:
        return f"{self.system.code}:{self.kind} @ {self.watermark or '-'}"


class LedgerState(models.TextChoices):
    PENDING = "pending", "Pending (not in flight)"
    IN_FLIGHT = "in_flight", "In flight"
    POSTED = "posted", "Posted"
    FAILED = "failed", "Failed (needs a person)"


class PostingLedger(TimeStamped):
    """One row per (Odoo system, posting reference): what we sent and what Odoo holds.

    A worker claims the row (``in_flight`` with a claim token and a lease) before it talks to
    Odoo and records the outcome after; a second worker finding a live claim backs off, and a
    retry after an unknown outcome lets the connector search Odoo by the reference before it
    creates anything. ``outcome_unknown`` says the last attempt may have been applied remotely.
    """

    system = models.ForeignKey("connections.ExternalSystem", on_delete=models.PROTECT, related_name="odoo_postings")
    reference = models.CharField(max_length=64)
    expense = models.ForeignKey("expenses.Expense", on_delete=models.PROTECT, related_name="odoo_postings")
    revision = models.PositiveIntegerField()
    mode = models.CharField(max_length=16, help_text="expense or journal_entry")
    state = models.CharField(max_length=16, choices=LedgerState.choices, default=LedgerState.PENDING, db_index=True)
    claim_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    outcome_unknown = models.BooleanField(default=False)
    odoo_model = models.CharField(max_length=64, blank=True)
    odoo_ids = models.JSONField(default=list, blank=True)
    move_ids = models.JSONField(default=list, blank=True)
    document_name = models.CharField(max_length=255, blank=True)
    odoo_state = models.CharField(max_length=32, blank=True)
    payment_state = models.CharField(max_length=32, blank=True)
    amount_total = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency_code = models.CharField(max_length=3, blank=True)
    last_error = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    read_back_at = models.DateTimeField(null=True, blank=True)
    history = audit_history()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["system", "reference"], name="uniq_odoo_posting_ref")]

    def __str__(self) -> str:
        return f"{self.reference} [{self.state}]"


class ReconciliationRun(TimeStamped):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    system = models.ForeignKey("connections.ExternalSystem", on_delete=models.PROTECT, related_name="odoo_reconciliations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_by = models.CharField(max_length=255, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Items found, by kind.")
    error = models.TextField(blank=True)
    history = audit_history()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reconciliation #{self.pk} {self.system.code} [{self.status}]"


class ItemKind(models.TextChoices):
    MISSING = "missing", "Missing in Odoo"
    DUPLICATE = "duplicate", "Duplicated in Odoo"
    AMOUNT = "amount_mismatch", "Amount mismatch"
    CURRENCY = "currency_mismatch", "Currency mismatch"
    TAX = "tax_mismatch", "Tax mismatch"
    PAID_NOT_REIMBURSED = "paid_not_reimbursed", "Paid in Odoo, not reimbursed here"
    REIMBURSED_NOT_PAID = "reimbursed_not_paid", "Reimbursed here, not paid in Odoo"


class ItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACTIONED = "actioned", "Action taken"
    RESOLVED = "resolved", "Resolved"


class ReconciliationItem(TimeStamped):
    """One difference between an expense we posted and what Odoo holds for its reference."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    expense = models.ForeignKey("expenses.Expense", on_delete=models.PROTECT, related_name="odoo_reconciliation_items")
    reference = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=32, choices=ItemKind.choices, db_index=True)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.OPEN, db_index=True)
    detail = models.TextField(blank=True)
    expected = models.JSONField(default=dict, blank=True)
    found = models.JSONField(default=dict, blank=True)
    action = models.CharField(max_length=32, blank=True, help_text="repost, link, exception, resolved")
    action_note = models.TextField(blank=True)
    exception = models.ForeignKey("exceptions.ExceptionRecord", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    outbox_job = models.ForeignKey("sync.OutboxJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = audit_history()

    class Meta:
        ordering = ["run", "reference", "kind"]
        constraints = [models.UniqueConstraint(fields=["run", "reference", "kind"], name="uniq_recon_item")]

    def __str__(self) -> str:
        return f"{self.reference}: {self.get_kind_display()} [{self.status}]"
