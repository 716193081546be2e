"""Expenses: the claim, its lines, allocations, receipts, policy results and revisions.

The lifecycle lives on :class:`Expense` in three protected FSM fields (approval, posting,
payment). Transitions only check guards and change fields; the services in
``controlplane.expenses.services`` lock, transition, save and schedule side effects.
Integration state (Odoo ids, outbox jobs) is kept elsewhere (bindings, sync); what the
ledger answered is summarised in :class:`ExpensePosting`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped
from controlplane.expenses.states import (
    EDITABLE,
    IN_APPROVAL,
    WITHDRAWABLE,
    ApprovalState,
    CheckOutcome,
    PaymentState,
    PostingState,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 20, "decimal_places": 10}


class Expense(ConcurrentTransitionMixin, FSMModelMixin, TimeStamped):
    """One expense claim from a source system (``source_system`` + ``source_id`` unique)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source_system = models.ForeignKey("connections.ExternalSystem", on_delete=models.PROTECT, related_name="expenses")
    source_id = models.CharField(max_length=128)
    employee = models.ForeignKey("masterdata.Employee", on_delete=models.PROTECT, related_name="expenses")
    legal_entity = models.ForeignKey("masterdata.LegalEntity", on_delete=models.PROTECT, related_name="expenses")
    purpose = models.CharField(max_length=255, blank=True)
    currency = models.ForeignKey("masterdata.Currency", on_delete=models.PROTECT, related_name="+")
    total_amount = models.DecimalField(default=0, **MONEY)
    total_amount_base = models.DecimalField(
        null=True, blank=True, help_text="In the entity's base currency; empty while a rate is missing.", **MONEY
    )
    total_tax = models.DecimalField(default=0, **MONEY)
    revision = models.PositiveIntegerField(default=1)

    approval_state = FSMField(default=ApprovalState.DRAFT, choices=ApprovalState.choices, protected=True, db_index=True)
    posting_state = FSMField(default=PostingState.NOT_POSTED, choices=PostingState.choices, protected=True, db_index=True)
    payment_state = FSMField(default=PaymentState.UNPAID, choices=PaymentState.choices, protected=True, db_index=True)

    policy_flagged = models.BooleanField(default=False, help_text="Soft policy findings approvers should look at.")
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, help_text="Last return / rejection / withdrawal reason.")
    finance_reviewed_at = models.DateTimeField(null=True, blank=True)
    finance_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finance_reviewed_by_employee = models.ForeignKey(
        "masterdata.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posting_revision = models.PositiveIntegerField(
        null=True, blank=True, help_text="The revision sent to the ledger; frozen once posting is queued."
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=128, blank=True)
    paid_by = models.ForeignKey("masterdata.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    paid_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    history = audit_history()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["source_system", "source_id"], name="uniq_expense_source")]
        indexes = [models.Index(fields=["legal_entity", "approval_state"]), models.Index(fields=["employee", "created_at"])]

    def __str__(self) -> str:
        return f"{self.source_system_id}:{self.source_id} r{self.revision}"

    @property
    def posting_reference(self) -> str:
        """Deterministic ledger reference of the posted (or to-be-posted) revision."""
        return f"CP-{self.public_id.hex[:12].upper()}-R{self.posting_revision or self.revision}"

    @property
    def is_editable(self) -> bool:
        return self.approval_state in EDITABLE

    # --- approval axis --------------------------------------------------------------
    @transition(field=approval_state, source=list(EDITABLE), target=ApprovalState.SUBMITTED)
    def submit(self) -> None:
        self.submitted_at = timezone.now()
        self.decision_comment = ""

    @transition(field=approval_state, source=list(IN_APPROVAL), target=ApprovalState.SUBMITTED)
    def reroute(self) -> None:
        """A material amendment while in approval: approvals reset, a new chain runs."""
        self.submitted_at = timezone.now()
        self.approved_at = None

    @transition(field=approval_state, source=ApprovalState.SUBMITTED, target=ApprovalState.MANAGER_APPROVED)
    def approve(self) -> None:
        self.approved_at = timezone.now()

    @transition(field=approval_state, source=ApprovalState.SUBMITTED, target=ApprovalState.RETURNED)
    def send_back(self, comment: str = "") -> None:
        self.decision_comment = comment

    @transition(field=approval_state, source=ApprovalState.SUBMITTED, target=ApprovalState.REJECTED)
    def reject(self, comment: str = "") -> None:
        self.decision_comment = comment

    @transition(field=approval_state, source=list(WITHDRAWABLE), target=ApprovalState.WITHDRAWN)
    def withdraw(self, reason: str = "") -> None:
        self.decision_comment = reason

    def _posting_not_started(self) -> bool:
        return self.posting_state == PostingState.NOT_POSTED

    @transition(field=approval_state, source=ApprovalState.MANAGER_APPROVED, target=ApprovalState.FINANCE_REVIEWED,
                conditions=[_posting_not_started])
    def finance_review(self, user=None, employee=None) -> None:
        self.finance_reviewed_at = timezone.now()
        self.finance_reviewed_by = user
        self.finance_reviewed_by_employee = employee

    def _settled(self) -> bool:
        return self.posting_state == PostingState.POSTED and self.payment_state == PaymentState.PAID

    @transition(field=approval_state, source=ApprovalState.FINANCE_REVIEWED, target=ApprovalState.ARCHIVED,
                conditions=[_settled])
    def archive(self) -> None:
        self.archived_at = timezone.now()

    # --- posting axis (owned by the ledger) -----------------------------------------
    def _finance_reviewed(self) -> bool:
        return self.approval_state == ApprovalState.FINANCE_REVIEWED

    @transition(field=posting_state, source=PostingState.NOT_POSTED, target=PostingState.POSTING,
                conditions=[_finance_reviewed])
    def queue_posting(self) -> None:
        self.posting_revision = self.revision

    @transition(field=posting_state, source=PostingState.POSTING, target=PostingState.POSTED)
    def mark_posted(self) -> None:
        self.posted_at = timezone.now()

    # --- payment axis (owned by payroll / bank) -------------------------------------
    @transition(field=payment_state, source=PaymentState.UNPAID, target=PaymentState.PAID,
                conditions=[_finance_reviewed])
    def mark_paid(self, reference: str = "", employee=None, user=None) -> None:
        self.paid_at = timezone.now()
        self.payment_reference = reference
        self.paid_by = employee
        self.paid_by_user = user


class ExpenseLine(TimeStamped):
    """One spend. ``amount`` is what was entered (tax included when the tax code says so);
    ``total`` is the gross in the expense currency; ``amount_base`` is ``total`` converted with
    the stored rate (``rate_*`` fields record which rate, of which date, from where)."""

    expense = models.ForeignKey(Expense, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    date = models.DateField()
    category = models.ForeignKey("masterdata.ExpenseCategory", on_delete=models.PROTECT, related_name="+")
    merchant = models.CharField(max_length=255, blank=True)
    description = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(validators=[MinValueValidator(0)], **MONEY)
    currency = models.ForeignKey("masterdata.Currency", on_delete=models.PROTECT, related_name="+")
    tax_code = models.ForeignKey("masterdata.TaxCode", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    net_amount = models.DecimalField(default=0, **MONEY)
    tax_amount = models.DecimalField(default=0, **MONEY)
    total = models.DecimalField(default=0, **MONEY)
    exchange_rate = models.DecimalField(null=True, blank=True, **RATE)
    exchange_rate_date = models.DateField(null=True, blank=True)
    exchange_rate_source = models.CharField(max_length=64, blank=True)
    amount_base = models.DecimalField(null=True, blank=True, **MONEY)
    history = audit_history()

    class Meta:
        ordering = ["expense", "position"]
        constraints = [models.UniqueConstraint(fields=["expense", "position"], name="uniq_line_position")]
        # The duplicate-line policy check looks lines up by date and amount.
        indexes = [models.Index(fields=["date", "amount"], name="expline_date_amount_idx")]

    def __str__(self) -> str:
        return f"{self.expense_id}#{self.position} {self.amount} {self.currency_id}"


class ExpenseAllocation(TimeStamped):
    """Share of a line charged to a project / cost centre / analytic account; a line's
    percentages sum to 100."""

    line = models.ForeignKey(ExpenseLine, on_delete=models.CASCADE, related_name="allocations")
    percent = models.DecimalField(max_digits=7, decimal_places=4, validators=[MinValueValidator(0)])
    project = models.ForeignKey("masterdata.Project", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cost_centre = models.ForeignKey(
        "masterdata.CostCentre", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    analytic_account = models.ForeignKey(
        "masterdata.AnalyticAccount", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = audit_history()

    class Meta:
        ordering = ["line", "id"]

    def __str__(self) -> str:
        return f"{self.percent}% of line {self.line_id}"


def receipt_path(instance: Receipt, filename: str) -> str:
    # Content-addressed under the expense: names never collide and never leak the original name.
    return f"receipts/{instance.expense.public_id.hex}/{instance.sha256}"


class Receipt(TimeStamped):
    """Receipt metadata; the file itself is in the default storage, apart from the database."""

    expense = models.ForeignKey(Expense, on_delete=models.CASCADE, related_name="receipts")
    line = models.ForeignKey(ExpenseLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="receipts")
    file = models.FileField(upload_to=receipt_path, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    history = audit_history()

    class Meta:
        ordering = ["expense", "id"]
        constraints = [models.UniqueConstraint(fields=["expense", "sha256"], name="uniq_receipt_per_expense")]

    def __str__(self) -> str:
        return f"{self.original_name or self.sha256[:12]} ({self.size} B)"


class ExpenseRevision(models.Model):
    """The material content of one revision as JSON, so amendments can be compared and audited.
    ``applied`` is False for an amendment that arrived after posting and was held for a person."""

    expense = models.ForeignKey(Expense, on_delete=models.CASCADE, related_name="revisions")
    revision = models.PositiveIntegerField()
    snapshot = models.JSONField()
    material = models.BooleanField(default=True)
    changed = models.JSONField(default=list, blank=True, help_text="Top-level keys that changed.")
    applied = models.BooleanField(default=True)
    actor_label = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = audit_history()

    class Meta:
        ordering = ["expense", "revision", "id"]

    def __str__(self) -> str:
        return f"{self.expense_id} r{self.revision}"


class PolicyCheckResult(models.Model):
    """One policy check outcome for one revision of an expense."""

    expense = models.ForeignKey(Expense, on_delete=models.CASCADE, related_name="policy_results")
    revision = models.PositiveIntegerField()
    code = models.CharField(max_length=64)
    outcome = models.CharField(max_length=8, choices=CheckOutcome.choices)
    field = models.CharField(max_length=128, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = audit_history()

    class Meta:
        ordering = ["expense", "revision", "id"]
        indexes = [models.Index(fields=["expense", "revision"])]

    def __str__(self) -> str:
        return f"{self.code}: {self.outcome}"


class ExpensePosting(TimeStamped):
    """What the ledger reported for the posted revision (one per expense: never two postings)."""

    expense = models.OneToOneField(Expense, on_delete=models.PROTECT, related_name="posting")
    revision = models.PositiveIntegerField()
    reference = models.CharField(max_length=64, unique=True)
    odoo_ref = models.CharField(max_length=255, blank=True)
    document_name = models.CharField(max_length=255, blank=True)
    amount_total = models.DecimalField(null=True, blank=True, **MONEY)
    amount_tax = models.DecimalField(null=True, blank=True, **MONEY)
    history = audit_history()

    def __str__(self) -> str:
        return f"{self.reference} → {self.document_name or self.odoo_ref}"
