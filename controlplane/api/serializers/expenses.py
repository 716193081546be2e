"""Expenses as the API accepts and shows them: codes for master data, UUIDs for expenses."""

from __future__ import annotations

from rest_framework import serializers

from controlplane.approvals.models import ApprovalStep
from controlplane.expenses.models import Expense, ExpenseAllocation, ExpenseLine, PolicyCheckResult, Receipt

_code = {"read_only": True, "slug_field": "code"}
_ncode = {**_code, "allow_null": True}
_opt_code = {"max_length": 64, "required": False, "allow_null": True, "allow_blank": True}


# --- input ------------------------------------------------------------------------------
class AllocationIn(serializers.Serializer):
    percent = serializers.DecimalField(max_digits=7, decimal_places=4, min_value=0, max_value=100)
    project = serializers.CharField(**_opt_code)
    cost_centre = serializers.CharField(**_opt_code)
    analytic_account = serializers.CharField(**_opt_code)


class LineIn(serializers.Serializer):
    date = serializers.DateField()
    category = serializers.CharField(max_length=32)
    merchant = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=4, min_value=0)
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False)
    tax_code = serializers.CharField(**_opt_code)
    allocations = AllocationIn(many=True, required=False, max_length=20)


class ExpenseContentIn(serializers.Serializer):
    legal_entity = serializers.CharField(max_length=32)
    employee = serializers.CharField(max_length=64)
    purpose = serializers.CharField(max_length=255, required=False, allow_blank=True)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    lines = LineIn(many=True, min_length=1, max_length=200)


class ExpenseCreate(ExpenseContentIn):
    source_id = serializers.CharField(max_length=128)
    source_system = serializers.SlugField(max_length=64, required=False,
                                          help_text="Staff only; a token always writes as its own system.")
    submit = serializers.BooleanField(required=False, default=False, help_text="Submit for approval once stored.")


class ExpenseAmend(ExpenseContentIn):
    """Every key optional: what is sent replaces, the rest stays."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class BulkExpenseCreate(serializers.Serializer):
    items = ExpenseCreate(many=True, min_length=1, max_length=500)


class WithdrawIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class DecisionIn(serializers.Serializer):
    approver = serializers.CharField(max_length=64, required=False,
                                     help_text="Employee code of the approver (tokens); sessions decide as themselves.")
    decision = serializers.ChoiceField(choices=["approve", "return", "reject"])
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class FinanceReviewIn(serializers.Serializer):
    reviewer = serializers.CharField(max_length=64, required=False,
                                     help_text="Employee code of the reviewer (tokens); sessions review as themselves.")
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class PaymentIn(serializers.Serializer):
    payment_ref = serializers.CharField(max_length=128)
    paid_by = serializers.CharField(max_length=64, required=False, help_text="Employee code of the payer, if known.")


class ReceiptUploadIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    line_position = serializers.IntegerField(min_value=1, max_value=32767, required=False)


# --- output -------------------------------------------------------------------------------
class AllocationOut(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(**_ncode)
    cost_centre = serializers.SlugRelatedField(**_ncode)
    analytic_account = serializers.SlugRelatedField(**_ncode)

    class Meta:
        model = ExpenseAllocation
        fields = ["percent", "project", "cost_centre", "analytic_account"]


class LineOut(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(**_code)
    currency = serializers.SlugRelatedField(**_code)
    tax_code = serializers.SlugRelatedField(**_ncode)
    allocations = AllocationOut(many=True, read_only=True)

    class Meta:
        model = ExpenseLine
        fields = ["position", "date", "category", "merchant", "description", "amount", "currency", "tax_code",
                  "net_amount", "tax_amount", "total", "exchange_rate", "amount_base", "allocations"]


class ReceiptOut(serializers.ModelSerializer):
    id = serializers.IntegerField(read_only=True)
    line_position = serializers.IntegerField(source="line.position", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Receipt
        fields = ["id", "original_name", "content_type", "size", "sha256", "line_position", "created_at"]


class PolicyOut(serializers.ModelSerializer):
    class Meta:
        model = PolicyCheckResult
        fields = ["revision", "code", "outcome", "field", "message"]


class StepOut(serializers.ModelSerializer):
    approver = serializers.SlugRelatedField(**_ncode)
    group = serializers.SlugRelatedField(read_only=True, slug_field="name", allow_null=True)
    decided_by = serializers.SlugRelatedField(**_ncode)

    class Meta:
        model = ApprovalStep
        fields = ["cycle", "order", "kind", "approver", "group", "status", "due_at", "decided_by", "decided_at", "comment"]


class ExpenseSummaryOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    source_system = serializers.SlugRelatedField(**_code)
    employee = serializers.SlugRelatedField(**_code)
    legal_entity = serializers.SlugRelatedField(**_code)
    currency = serializers.SlugRelatedField(**_code)

    class Meta:
        model = Expense
        fields = ["id", "source_system", "source_id", "employee", "legal_entity", "purpose", "currency",
                  "total_amount", "total_tax", "total_amount_base", "revision", "approval_state", "posting_state",
                  "payment_state", "policy_flagged", "submitted_at", "approved_at", "finance_reviewed_at",
                  "posted_at", "paid_at", "payment_reference", "created_at", "updated_at"]


class ExpenseOut(ExpenseSummaryOut):
    lines = LineOut(many=True, read_only=True)
    receipts = ReceiptOut(many=True, read_only=True)
    policy_results = serializers.SerializerMethodField()
    approval_steps = serializers.SerializerMethodField()

    class Meta(ExpenseSummaryOut.Meta):
        fields = [*ExpenseSummaryOut.Meta.fields, "lines", "receipts", "policy_results", "approval_steps"]

    def get_policy_results(self, obj) -> list[dict]:
        rows = [r for r in obj.policy_results.all() if r.revision == obj.revision]
        return PolicyOut(rows, many=True).data

    def get_approval_steps(self, obj) -> list[dict]:
        steps = list(obj.approval_steps.all())
        latest = max((s.cycle for s in steps), default=0)
        return StepOut([s for s in steps if s.cycle == latest], many=True).data


class BulkItemResult(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "error"])
    id = serializers.UUIDField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class BulkExpenseResult(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    failed = serializers.IntegerField()
    lines = serializers.IntegerField()
    results = BulkItemResult(many=True)


class PendingStepOut(serializers.Serializer):
    expense = ExpenseSummaryOut()
    order = serializers.IntegerField()
    kind = serializers.CharField()
    approver = serializers.CharField(source="approver.code", allow_null=True, default=None)
    due_at = serializers.DateTimeField(allow_null=True)
