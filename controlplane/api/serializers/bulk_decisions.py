"""Bulk approval decisions and bulk finance reviews: what the API accepts and answers."""

from __future__ import annotations

from rest_framework import serializers

MAX_ITEMS = 500


# --- input ------------------------------------------------------------------------------
class DecisionItemIn(serializers.Serializer):
    expense = serializers.UUIDField(help_text="The expense's id (as returned on create).")
    approver = serializers.CharField(max_length=64, required=False,
                                     help_text="Employee code of the approver in the expense's legal entity (tokens); "
                                               "sessions decide as themselves.")
    decision = serializers.ChoiceField(choices=["approve", "return", "reject"])
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class BulkDecisionIn(serializers.Serializer):
    items = DecisionItemIn(many=True, min_length=1, max_length=MAX_ITEMS)


class FinanceReviewItemIn(serializers.Serializer):
    expense = serializers.UUIDField(help_text="The expense's id (as returned on create).")


class BulkFinanceReviewIn(serializers.Serializer):
    reviewer = serializers.CharField(max_length=64, required=False,
                                     help_text="Employee code of the reviewer, looked up in each expense's legal entity "
                                               "(tokens); sessions review as themselves.")
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    items = FinanceReviewItemIn(many=True, min_length=1, max_length=MAX_ITEMS)


# --- output -----------------------------------------------------------------------------
class ItemProblem(serializers.Serializer):
    field = serializers.CharField(allow_blank=True)
    code = serializers.CharField()
    detail = serializers.CharField()


class BulkDecisionItemResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    status = serializers.ChoiceField(choices=["ok", "error"])
    expense = serializers.UUIDField(allow_null=True, help_text="Null when the expense is not found (or not yours).")
    approval_state = serializers.CharField(allow_null=True)
    posting_state = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_blank=True, help_text="Error code (the single endpoint's problem code).")
    http_status = serializers.IntegerField(help_text="The status the single endpoint would have answered.")
    detail = serializers.CharField(allow_blank=True)
    errors = ItemProblem(many=True)
    exception_id = serializers.IntegerField(allow_null=True,
                                            help_text="The sod_conflict exception recorded for a refusal.")


class BulkDecisionResult(serializers.Serializer):
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkDecisionItemResult(many=True)
