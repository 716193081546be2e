"""Master data as the API shows it (codes, not ids) and the rows a bulk upsert accepts."""

from __future__ import annotations

from rest_framework import serializers

from controlplane.masterdata import models as md

_code = {"read_only": True, "slug_field": "code"}
_ncode = {**_code, "allow_null": True}


class EmployeeOut(serializers.ModelSerializer):
    legal_entity = serializers.SlugRelatedField(**_code)
    manager = serializers.SlugRelatedField(**_ncode)
    department = serializers.SlugRelatedField(**_ncode)
    cost_centre = serializers.SlugRelatedField(**_ncode)

    class Meta:
        model = md.Employee
        fields = ["id", "legal_entity", "code", "first_name", "last_name", "email", "manager", "department",
                  "cost_centre", "active", "updated_at"]


class DepartmentOut(serializers.ModelSerializer):
    legal_entity = serializers.SlugRelatedField(**_code)
    parent = serializers.SlugRelatedField(**_ncode)
    head = serializers.SlugRelatedField(**_ncode)

    class Meta:
        model = md.Department
        fields = ["id", "legal_entity", "code", "name", "parent", "head", "active", "updated_at"]


class CostCentreOut(serializers.ModelSerializer):
    legal_entity = serializers.SlugRelatedField(**_code)
    parent = serializers.SlugRelatedField(**_ncode)
    owner = serializers.SlugRelatedField(**_ncode)

    class Meta:
        model = md.CostCentre
        fields = ["id", "legal_entity", "code", "name", "parent", "owner", "active", "updated_at"]


class ProjectOut(serializers.ModelSerializer):
    legal_entity = serializers.SlugRelatedField(**_code)
    owner = serializers.SlugRelatedField(**_ncode)

    class Meta:
        model = md.Project
        fields = ["id", "legal_entity", "code", "name", "owner", "active", "updated_at"]


class CategoryOut(serializers.ModelSerializer):
    class Meta:
        model = md.ExpenseCategory
        fields = ["id", "code", "name", "active", "updated_at"]


class TaxCodeOut(serializers.ModelSerializer):
    legal_entity = serializers.SlugRelatedField(**_code)

    class Meta:
        model = md.TaxCode
        fields = ["id", "legal_entity", "code", "name", "rate", "price_included", "active", "updated_at"]


class ExchangeRateOut(serializers.ModelSerializer):
    from_currency = serializers.SlugRelatedField(**_code)
    to_currency = serializers.SlugRelatedField(**_code)

    class Meta:
        model = md.ExchangeRate
        fields = ["id", "from_currency", "to_currency", "date", "rate", "source", "updated_at"]


# --- bulk upsert rows: natural keys (codes) only -------------------------------------------
_ref = {"required": False, "allow_null": True, "max_length": 64}


class EmployeeRow(serializers.Serializer):
    legal_entity = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=64)
    first_name = serializers.CharField(max_length=64)
    last_name = serializers.CharField(max_length=64)
    email = serializers.EmailField()
    manager = serializers.CharField(**_ref)
    department = serializers.CharField(**_ref)
    cost_centre = serializers.CharField(**_ref)
    active = serializers.BooleanField(required=False, default=True)


class DepartmentRow(serializers.Serializer):
    legal_entity = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    parent = serializers.CharField(**_ref)
    head = serializers.CharField(**_ref)
    active = serializers.BooleanField(required=False, default=True)


class CostCentreRow(serializers.Serializer):
    legal_entity = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    parent = serializers.CharField(**_ref)
    owner = serializers.CharField(**_ref)
    active = serializers.BooleanField(required=False, default=True)


class ProjectRow(serializers.Serializer):
    legal_entity = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    owner = serializers.CharField(**_ref)
    active = serializers.BooleanField(required=False, default=True)


class CategoryRow(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    active = serializers.BooleanField(required=False, default=True)


class TaxCodeRow(serializers.Serializer):
    legal_entity = serializers.CharField(max_length=32)
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=128)
    rate = serializers.DecimalField(max_digits=7, decimal_places=4, min_value=0, max_value=100)
    price_included = serializers.BooleanField(required=False, default=True)
    active = serializers.BooleanField(required=False, default=True)


class ExchangeRateRow(serializers.Serializer):
    from_currency = serializers.RegexField(r"^[A-Z]{3}$")
    to_currency = serializers.RegexField(r"^[A-Z]{3}$")
    date = serializers.DateField()
    rate = serializers.DecimalField(max_digits=20, decimal_places=10, min_value=0)
    source = serializers.CharField(max_length=64, required=False, default="api")


class RowResult(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    id = serializers.IntegerField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class BulkResult(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = RowResult(many=True)
