"""Canonical master data. Every model keeps its full history (``audit_history``).

Amounts are ``Decimal``; thresholds and caps are in the legal entity's base currency.
Records are never deleted by integrations: they are deactivated (``active=False``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped

iso_currency = RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code such as EUR.")
iso_country = RegexValidator(r"^[A-Z]{2}$", "Use an ISO 3166-1 alpha-2 code such as FR.")


class Currency(TimeStamped):
    code = models.CharField(max_length=3, unique=True, validators=[iso_currency])
    name = models.CharField(max_length=64)
    minor_units = models.PositiveSmallIntegerField(default=2)
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ExchangeRate(TimeStamped):
    """``1 from_currency = rate × to_currency`` on ``date``, as published by ``source``."""

    from_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    to_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    date = models.DateField(db_index=True)
    rate = models.DecimalField(max_digits=20, decimal_places=10, validators=[MinValueValidator(0)])
    source = models.CharField(max_length=64, default="manual", help_text="e.g. ECB, odoo, manual")
    history = audit_history()

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["from_currency", "to_currency", "date"], name="uniq_rate_per_day"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="rate_positive"),
        ]
        indexes = [models.Index(fields=["from_currency", "to_currency", "-date"])]

    def __str__(self) -> str:
        return f"{self.from_currency}->{self.to_currency} {self.rate} on {self.date}"


class LegalEntity(TimeStamped):
    class PostingMode(models.TextChoices):
        EXPENSE = "expense", "Odoo expenses (Odoo's own workflow)"
        JOURNAL_ENTRY = "journal_entry", "Journal entries (vendor bills)"

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    base_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="entities")
    country = models.CharField(max_length=2, validators=[iso_country])
    posting_mode = models.CharField(max_length=16, choices=PostingMode.choices, default=PostingMode.EXPENSE)
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        verbose_name_plural = "legal entities"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Employee(TimeStamped):
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="employees")
    code = models.CharField(max_length=64, help_text="Employee number, unique per legal entity.")
    first_name = models.CharField(max_length=64)
    last_name = models.CharField(max_length=64)
    email = models.EmailField(unique=True)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    department = models.ForeignKey("Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    cost_centre = models.ForeignKey("CostCentre", null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="employee"
    )
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [models.UniqueConstraint(fields=["legal_entity", "code"], name="uniq_employee_code")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return str(self)


class Department(TimeStamped):
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="departments")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=128)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    head = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL, related_name="heads")
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["legal_entity", "code"]
        constraints = [models.UniqueConstraint(fields=["legal_entity", "code"], name="uniq_department_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CostCentre(TimeStamped):
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="cost_centres")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=128)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    owner = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_cost_centres")
    analytic_account = models.ForeignKey(
        "AnalyticAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_centres"
    )
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["legal_entity", "code"]
        constraints = [models.UniqueConstraint(fields=["legal_entity", "code"], name="uniq_cost_centre_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class GLAccount(TimeStamped):
    """A general-ledger account, mirrored from Odoo (``account.account``)."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="gl_accounts")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=128)
    account_type = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        verbose_name = "GL account"
        ordering = ["legal_entity", "code"]
        constraints = [models.UniqueConstraint(fields=["legal_entity", "code"], name="uniq_gl_account_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AnalyticAccount(TimeStamped):
    """An analytic account, mirrored from Odoo (``account.analytic.account``)."""

    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="analytic_accounts")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=128)
    plan = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["legal_entity", "code"]
        constraints = [models.UniqueConstraint(fields=["legal_entity", "code"], name="uniq_analytic_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Project(TimeStamped):
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="projects")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=128)
    owner = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_projects")
    analytic_account = models.ForeignKey(
        AnalyticAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="projects"
    )
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["legal_entity", "code"]
        constraints = [models.UniqueConstraint(fields=["legal_entity", "code"], name="uniq_project_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TaxCode(TimeStamped):
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="tax_codes")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=128)
    rate = models.DecimalField(max_digits=7, decimal_places=4, help_text="Percent, e.g. 20.0000")
    price_included = models.BooleanField(default=True, help_text="Expense taxes are usually included in the amount.")
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["legal_entity", "code"]
        constraints = [models.UniqueConstraint(fields=["legal_entity", "code"], name="uniq_tax_code")]

    def __str__(self) -> str:
        return f"{self.code} ({self.rate}%)"


class ExpenseCategory(TimeStamped):
    """A kind of expense (meals, travel, …). Accounting, taxes, thresholds and caps are per
    legal entity, in :class:`CategoryAccounting`."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        verbose_name_plural = "expense categories"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CategoryAccounting(TimeStamped):
    """How a category is booked in one legal entity; without this row the category is
    unmapped for that entity and expenses using it cannot be submitted."""

    category = models.ForeignKey(ExpenseCategory, on_delete=models.CASCADE, related_name="accounting")
    legal_entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="category_accounting")
    gl_account = models.ForeignKey(GLAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    default_tax = models.ForeignKey(TaxCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    receipt_threshold = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        help_text="A receipt is required above this amount (base currency).",
    )
    cap_amount = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Maximum per line (base currency)."
    )
    history = audit_history()

    class Meta:
        verbose_name_plural = "category accounting"
        constraints = [models.UniqueConstraint(fields=["category", "legal_entity"], name="uniq_category_entity")]

    def __str__(self) -> str:
        return f"{self.category.code} @ {self.legal_entity.code}"


class Vendor(TimeStamped):
    legal_entity = models.ForeignKey(LegalEntity, null=True, blank=True, on_delete=models.PROTECT, related_name="vendors")
    name = models.CharField(max_length=128)
    vat = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)
    history = audit_history()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
