"""Admin for master data: search, filters and history on every model."""

from __future__ import annotations

from django.contrib import admin

from controlplane.core.admin import AuditedAdmin
from controlplane.masterdata import models as md


@admin.register(md.Currency)
class CurrencyAdmin(AuditedAdmin):
    list_display = ["code", "name", "minor_units", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]


@admin.register(md.ExchangeRate)
class ExchangeRateAdmin(AuditedAdmin):
    list_display = ["date", "from_currency", "to_currency", "rate", "source"]
    list_filter = ["source", "from_currency", "to_currency"]
    list_select_related = ["from_currency", "to_currency"]
    date_hierarchy = "date"


@admin.register(md.LegalEntity)
class LegalEntityAdmin(AuditedAdmin):
    list_display = ["code", "name", "base_currency", "country", "posting_mode", "active"]
    list_filter = ["active", "posting_mode", "country"]
    list_select_related = ["base_currency"]
    search_fields = ["code", "name"]


@admin.register(md.Employee)
class EmployeeAdmin(AuditedAdmin):
    list_display = ["code", "first_name", "last_name", "email", "legal_entity", "department", "manager", "active"]
    list_filter = ["active", "legal_entity", "department"]
    list_select_related = ["legal_entity", "department", "manager"]
    search_fields = ["code", "first_name", "last_name", "email"]
    autocomplete_fields = ["manager", "department", "cost_centre", "user"]


@admin.register(md.Department)
class DepartmentAdmin(AuditedAdmin):
    list_display = ["code", "name", "legal_entity", "parent", "head", "active"]
    list_filter = ["active", "legal_entity"]
    list_select_related = ["legal_entity", "parent", "head"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "head"]


@admin.register(md.CostCentre)
class CostCentreAdmin(AuditedAdmin):
    list_display = ["code", "name", "legal_entity", "parent", "owner", "active"]
    list_filter = ["active", "legal_entity"]
    list_select_related = ["legal_entity", "parent", "owner"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "owner", "analytic_account"]


@admin.register(md.Project)
class ProjectAdmin(AuditedAdmin):
    list_display = ["code", "name", "legal_entity", "owner", "analytic_account", "active"]
    list_filter = ["active", "legal_entity"]
    list_select_related = ["legal_entity", "owner", "analytic_account"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["owner", "analytic_account"]


@admin.register(md.GLAccount)
class GLAccountAdmin(AuditedAdmin):
    list_display = ["code", "name", "legal_entity", "account_type", "active"]
    list_filter = ["active", "legal_entity", "account_type"]
    list_select_related = ["legal_entity"]
    search_fields = ["code", "name"]


@admin.register(md.AnalyticAccount)
class AnalyticAccountAdmin(AuditedAdmin):
    list_display = ["code", "name", "legal_entity", "plan", "active"]
    list_filter = ["active", "legal_entity", "plan"]
    list_select_related = ["legal_entity"]
    search_fields = ["code", "name"]


@admin.register(md.TaxCode)
class TaxCodeAdmin(AuditedAdmin):
    list_display = ["code", "name", "legal_entity", "rate", "price_included", "active"]
    list_filter = ["active", "legal_entity", "price_included"]
    list_select_related = ["legal_entity"]
    search_fields = ["code", "name"]


class CategoryAccountingInline(admin.TabularInline):
    model = md.CategoryAccounting
    extra = 0
    autocomplete_fields = ["legal_entity", "gl_account", "default_tax"]


@admin.register(md.ExpenseCategory)
class ExpenseCategoryAdmin(AuditedAdmin):
    list_display = ["code", "name", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    inlines = [CategoryAccountingInline]


@admin.register(md.Vendor)
class VendorAdmin(AuditedAdmin):
    list_display = ["name", "vat", "legal_entity", "active"]
    list_filter = ["active", "legal_entity"]
    list_select_related = ["legal_entity"]
    search_fields = ["name", "vat"]
