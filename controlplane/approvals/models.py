"""Approval routing: policies and rules (configured in the admin), the frozen chain of steps
of each submitted expense, and delegation windows.

Rule amounts are in the legal entity's base currency; ``min_amount`` is inclusive and
``max_amount`` exclusive, so ``min_amount=1000.00`` matches 1000.00 and not 999.99, and two
rules ``[0, 1000)`` and ``[1000, ∞)`` never overlap.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models

from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped

MONEY = {"max_digits": 14, "decimal_places": 2}


class StepKind(models.TextChoices):
    MANAGER = "manager", "Direct manager"
    MANAGER_CHAIN = "manager_chain", "N levels of the manager chain"
    DEPARTMENT_HEAD = "department_head", "Department head"
    PROJECT_OWNER = "project_owner", "Project owner"
    COST_CENTRE_OWNER = "cost_centre_owner", "Cost-centre owner"
    GROUP = "group", "Anyone in a group"
    EMPLOYEE = "employee", "A named employee"


class StepStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for earlier steps"
    PENDING = "pending", "Pending decision"
    APPROVED = "approved", "Approved"
    RETURNED = "returned", "Returned"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded (re-routed or withdrawn)"


OPEN_STEP = (StepStatus.WAITING, StepStatus.PENDING)


class ApprovalPolicy(TimeStamped):
    """Routing for one legal entity. With no active policy (or no matching rule) an expense
    goes to the submitter's direct manager."""

    legal_entity = models.OneToOneField("masterdata.LegalEntity", on_delete=models.CASCADE, related_name="approval_policy")
    name = models.CharField(max_length=128)
    active = models.BooleanField(default=True)
    default_sla_hours = models.PositiveIntegerField(default=48, help_text="Service level of a step, in hours.")
    fallback_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Decides when the hierarchy runs out (e.g. the CEO's own expenses).",
    )
    history = audit_history()

    class Meta:
        verbose_name_plural = "approval policies"

    def __str__(self) -> str:
        return self.name


class ApprovalRule(TimeStamped):
    """Conditions (all set ones must match) and the steps they add, in ``order``."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="rules")
    order = models.PositiveIntegerField(default=10)
    name = models.CharField(max_length=128)
    active = models.BooleanField(default=True)
    department = models.ForeignKey("masterdata.Department", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey("masterdata.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(
        "masterdata.ExpenseCategory", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    cost_centre = models.ForeignKey("masterdata.CostCentre", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    min_amount = models.DecimalField(null=True, blank=True, help_text="Inclusive, base currency.", **MONEY)
    max_amount = models.DecimalField(null=True, blank=True, help_text="Exclusive, base currency.", **MONEY)
    stop_processing = models.BooleanField(default=False, help_text="Later rules are not evaluated when this matches.")
    history = audit_history()

    class Meta:
        ordering = ["policy", "order", "id"]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"

    def clean(self) -> None:
        if self.min_amount is not None and self.max_amount is not None and self.max_amount <= self.min_amount:
            raise ValidationError({"max_amount": "Must be greater than the minimum (the maximum is exclusive)."})


class ApprovalRuleStep(TimeStamped):
    """One step a rule adds. ``levels`` is used by ``manager_chain``; ``group`` by ``group``;
    ``employee`` by ``employee``."""

    rule = models.ForeignKey(ApprovalRule, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(default=10)
    kind = models.CharField(max_length=32, choices=StepKind.choices)
    levels = models.PositiveSmallIntegerField(default=1)
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey("masterdata.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sla_hours = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: the policy's default.")
    history = audit_history()

    class Meta:
        ordering = ["rule", "order", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}"

    def clean(self) -> None:
        if self.kind == StepKind.GROUP and self.group_id is None:
            raise ValidationError({"group": "A group step needs a group."})
        if self.kind == StepKind.EMPLOYEE and self.employee_id is None:
            raise ValidationError({"employee": "A named-employee step needs an employee."})


class ApprovalStep(TimeStamped):
    """One step of the chain frozen at submission (per revision). Steps run in ``order``:
    the lowest open step is ``pending``, later ones ``waiting``."""

    expense = models.ForeignKey("expenses.Expense", on_delete=models.CASCADE, related_name="approval_steps")
    revision = models.PositiveIntegerField()
    cycle = models.PositiveIntegerField(default=1, help_text="Submission round: each (re)submission freezes a new chain.")
    order = models.PositiveIntegerField()
    kind = models.CharField(max_length=32, choices=StepKind.choices)
    rule = models.ForeignKey(ApprovalRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approver = models.ForeignKey("masterdata.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="approval_steps")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.WAITING, db_index=True)
    sla_hours = models.PositiveIntegerField(default=48)
    activated_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    decided_by = models.ForeignKey("masterdata.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    delegated_from = models.ForeignKey("masterdata.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    escalated_from = models.ForeignKey("masterdata.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    escalation_reason = models.TextField(blank=True)
    routing_note = models.CharField(max_length=255, blank=True, help_text="Why this approver (skips, delegation).")
    history = audit_history()

    class Meta:
        ordering = ["expense", "cycle", "order"]
        constraints = [models.UniqueConstraint(fields=["expense", "cycle", "order"], name="uniq_step_order")]
        indexes = [models.Index(fields=["status", "due_at"]), models.Index(fields=["approver", "status"])]

    def __str__(self) -> str:
        who = self.approver or self.group
        return f"{self.expense_id} r{self.revision} #{self.order} {self.kind} → {who} ({self.status})"


class Delegation(TimeStamped):
    """While ``start <= now < end``, ``delegate`` decides for ``approver``."""

    approver = models.ForeignKey("masterdata.Employee", on_delete=models.CASCADE, related_name="delegations_given")
    delegate = models.ForeignKey("masterdata.Employee", on_delete=models.CASCADE, related_name="delegations_received")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["-start"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="delegation_period_valid"),
            models.CheckConstraint(condition=~models.Q(approver=models.F("delegate")), name="delegation_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.approver} → {self.delegate} ({self.start:%Y-%m-%d}–{self.end:%Y-%m-%d})"
