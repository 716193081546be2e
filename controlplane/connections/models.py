"""Integration configuration: external systems, value mappings, bindings and the
system-of-record rules. All keep history; credentials are encrypted at rest."""

from __future__ import annotations

import json

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from controlplane.core.crypto import EncryptedTextField
from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped


class SystemKind(models.TextChoices):
    ODOO = "odoo", "Odoo"
    EXPENSE_PLATFORM = "expense_platform", "Expense platform"
    HR = "hr", "HR"
    PAYROLL = "payroll", "Payroll"
    BANK = "bank", "Bank"
    ARCHIVE = "archive", "Compliance archive"
    REPORTING = "reporting", "Reporting"


class ExternalSystem(TimeStamped):
    """A system we exchange data with. ``credentials`` is a JSON object, encrypted at rest and
    never shown in clear by the admin (e.g. ``{"login": "...", "password": "..."}``)."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=32, choices=SystemKind.choices)
    endpoint = models.URLField(blank=True, help_text="Base URL, e.g. https://odoo.example.com")
    protocol = models.CharField(
        max_length=16, blank=True, help_text="For Odoo: xmlrpc, xmlrpcs, jsonrpc, jsonrpcs, json2 or json2s."
    )
    database = models.CharField(max_length=128, blank=True, help_text="Odoo database name.")
    credentials = EncryptedTextField(blank=True, default="")
    legal_entities = models.ManyToManyField(
        "masterdata.LegalEntity", blank=True, related_name="systems", help_text="Entities this system serves."
    )
    enabled = models.BooleanField(default=True)
    rate_limit_per_second = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    max_in_flight = models.PositiveIntegerField(default=4, help_text="Concurrent calls allowed to this system.")
    timeout_seconds = models.DecimalField(max_digits=6, decimal_places=1, default=30)
    # Secrets stay out of the audit trail; the history records that they changed (reason).
    history = audit_history(excluded_fields=["credentials"])

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def credential_values(self) -> dict:
        """The decrypted credentials as a dict (empty when unset)."""
        return json.loads(self.credentials) if self.credentials else {}

    def set_credentials(self, values: dict) -> None:
        self.credentials = json.dumps(values, sort_keys=True) if values else ""


class MappingKind(models.TextChoices):
    CATEGORY = "category", "Expense category"
    TAX_CODE = "tax_code", "Tax code"
    COST_CENTRE = "cost_centre", "Cost centre"
    DEPARTMENT = "department", "Department"
    PROJECT = "project", "Project"
    EMPLOYEE = "employee", "Employee"
    LEGAL_ENTITY = "legal_entity", "Legal entity"
    CURRENCY = "currency", "Currency"
    ANALYTIC_ACCOUNT = "analytic_account", "Analytic account"


class ValueMapping(TimeStamped):
    """``external_code`` in ``system`` means the canonical record whose code is
    ``canonical_code`` (within ``legal_entity`` when set), from ``valid_from`` until
    ``valid_to`` (exclusive; open when empty)."""

    system = models.ForeignKey(ExternalSystem, on_delete=models.CASCADE, related_name="mappings")
    kind = models.CharField(max_length=32, choices=MappingKind.choices)
    legal_entity = models.ForeignKey(
        "masterdata.LegalEntity", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    external_code = models.CharField(max_length=128)
    canonical_code = models.CharField(max_length=128)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    history = audit_history()

    class Meta:
        ordering = ["system", "kind", "external_code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "kind", "legal_entity", "external_code", "valid_from"], name="uniq_mapping_start"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=models.F("valid_from")),
                name="mapping_period_valid",
            ),
        ]
        indexes = [models.Index(fields=["system", "kind", "external_code"])]

    def __str__(self) -> str:
        return f"{self.system.code}:{self.kind}:{self.external_code} → {self.canonical_code}"


class Binding(TimeStamped):
    """Our record ↔ its id in another system. One binding per record per system and remote
    model, and one record per remote id: the unique constraints make exports idempotent."""

    system = models.ForeignKey(ExternalSystem, on_delete=models.CASCADE, related_name="bindings")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    record = GenericForeignKey("content_type", "object_id")
    external_model = models.CharField(max_length=64, help_text="e.g. hr.employee, account.move")
    external_id = models.CharField(max_length=128)
    external_ref = models.CharField(max_length=128, blank=True, help_text="Our reference as stored remotely.")
    synced_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="What the remote system last told us.")
    history = audit_history()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "content_type", "object_id", "external_model"], name="uniq_binding_record"
            ),
            models.UniqueConstraint(fields=["system", "external_model", "external_id"], name="uniq_binding_external"),
        ]
        indexes = [models.Index(fields=["system", "external_model", "external_ref"])]

    def __str__(self) -> str:
        return f"{self.content_type.model}#{self.object_id} ↔ {self.system.code}:{self.external_model}#{self.external_id}"


class OwnershipRule(TimeStamped):
    """System of record: who owns an object kind (optionally one field group or one lifecycle
    stage of it). A write by any other system is refused or becomes an exception.

    ``owner`` empty means the control plane itself (finance operations in the admin) owns it.
    """

    class OnViolation(models.TextChoices):
        REFUSE = "refuse", "Refuse the write"
        EXCEPTION = "exception", "Refuse and open an exception"

    object_kind = models.CharField(max_length=64, help_text="e.g. employee, department, expense, payment_status")
    field_group = models.CharField(max_length=64, blank=True, help_text="Empty: every field.")
    stage = models.CharField(max_length=64, blank=True, help_text="Empty: every lifecycle stage.")
    owner = models.ForeignKey(ExternalSystem, null=True, blank=True, on_delete=models.PROTECT, related_name="owned")
    on_violation = models.CharField(max_length=16, choices=OnViolation.choices, default=OnViolation.EXCEPTION)
    note = models.CharField(max_length=255, blank=True)
    history = audit_history()

    class Meta:
        ordering = ["object_kind", "field_group", "stage"]
        constraints = [
            models.UniqueConstraint(fields=["object_kind", "field_group", "stage"], name="uniq_ownership_scope")
        ]

    def __str__(self) -> str:
        scope = "/".join(p for p in (self.object_kind, self.field_group, self.stage) if p)
        return f"{scope} → {self.owner.code if self.owner else 'controlplane'}"
