"""Expenses, receipts, approvals, finance review and payment status: thin views over the
lifecycle services. Every lookup goes through :meth:`ExpenseScope.expenses`, so an expense
outside the caller's entities (or, for an expense platform, sent by another system) is a 404."""

from __future__ import annotations

from contextlib import nullcontext

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics
from rest_framework.response import Response

from controlplane.api.caller import Caller
from controlplane.api.models import Scope
from controlplane.api.serializers import expenses as s
from controlplane.api.views.base import ApiMixin, ApiView
from controlplane.connections.models import ExternalSystem
from controlplane.core.errors import FieldProblem, NotAllowed, ValidationFailed
from controlplane.expenses import selectors, services
from controlplane.expenses.models import Expense
from controlplane.expenses.states import EDITABLE, ApprovalState, PaymentState, PostingState
from controlplane.masterdata.models import Employee, LegalEntity


def _clean(value):
    """Validated data as the services take it: keys sent with null are left out (defaults apply)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _unknown(field: str, what: str) -> ValidationFailed:
    return ValidationFailed(errors=[FieldProblem(field, "unknown", f"Unknown {what}.")])


class ExpenseScope:
    def expenses(self):
        caller: Caller = self.caller
        return selectors.expense_list(
            legal_entities=None if caller.all_entities else caller.entity_ids,
            source_system=caller.system if caller.is_platform else None,
        )

    def expense(self, eid) -> Expense:
        return get_object_or_404(self.expenses(), public_id=eid)

    def detail(self, expense: Expense):
        return s.ExpenseOut(selectors.expense_detail(expense.pk)).data

    def entity_in_scope(self, code: str) -> LegalEntity:
        """The legal entity ``code`` names (with its base currency), if the caller may touch it."""
        # (codes are unique: a slice, not .first(), which would add an ORDER BY)
        entity = next(iter(LegalEntity.objects.select_related("base_currency").filter(code=code)[:1]), None)
        if entity is None or not self.caller.may_touch_entity(entity.pk):
            raise _unknown("legal_entity", "legal entity")  # out of scope reads as unknown
        return entity

    def entity_and_employee(self, entity_code: str, employee_code: str | None) -> tuple[LegalEntity, Employee | None]:
        """:meth:`entity_in_scope` and, when ``employee_code`` names one of its employees, that
        employee (with its cost centre) — in one query when both are found; else
        ``(entity_in_scope(entity_code), None)``."""
        if employee_code:
            found = Employee.objects.select_related("legal_entity__base_currency", "cost_centre").filter(
                legal_entity__code=entity_code, code=employee_code)[:1]  # (unique per entity)
            employee = next(iter(found), None)
            if employee is not None and self.caller.may_touch_entity(employee.legal_entity_id):
                return employee.legal_entity, employee
        return self.entity_in_scope(entity_code), None

    def person(self, code: str | None, entity_id: int, field: str) -> Employee:
        """The employee a token names (within the expense's entity); a session acts as its own user's employee."""
        caller = self.caller
        if caller.user is not None:
            own = Employee.objects.filter(user=caller.user).first()
            if own is None or (code and code != own.code):
                raise NotAllowed("A staff session acts as its own employee only.", code="not_own_identity")
            return own
        found = Employee.objects.filter(legal_entity_id=entity_id, code=code).first() if code else None
        if found is None:
            raise _unknown(field, "employee")
        return found


def _source_system(caller: Caller, code: str | None) -> ExternalSystem:
    if caller.system is not None:
        if code not in (None, caller.system.code):
            raise ValidationFailed(errors=[FieldProblem("source_system", "not_allowed", "A token writes as its own system.")])
        return caller.system
    system = ExternalSystem.objects.filter(code=code or "").first()
    if system is None:
        raise _unknown("source_system", "system")
    return system


def upsert_one(view: ExpenseScope, data: dict) -> tuple[Expense, bool]:
    """Create or amend by source reference (and submit when asked), all in one transaction."""
    data = _clean(dict(data))
    source_system = _source_system(view.caller, data.pop("source_system", None))
    source_id = data.pop("source_id")
    submit = data.pop("submit", False)
    entity, employee = view.entity_and_employee(data["legal_entity"], data.get("employee"))
    found = Expense.objects.filter(source_system=source_system, source_id=source_id).values_list("pk", flat=True)[:1]
    existing = next(iter(found), None)  # (the reference is unique)
    if existing is not None and not view.expenses().filter(pk=existing).exists():
        raise _unknown("source_id", "expense")
    actor = view.caller.actor
    # Without submit there is one service call, transactional on its own: no savepoint around it.
    with transaction.atomic() if submit else nullcontext():
        if existing is not None:
            # (straight to amend: the same thing expense_upsert_from_source does for a known reference)
            expense, created = services.expense_amend(actor=actor, expense_id=existing, data=data,
                                                      writer=source_system), False
        else:
            # The records found above instead of their codes (no second lookup): the entity, and
            # its base currency when that is the currency named. The reference is known to be new.
            known = {"legal_entity": entity} if employee is None else {"legal_entity": entity, "employee": employee}
            if data.get("currency") == entity.base_currency.code:
                known["currency"] = entity.base_currency
            expense, created = services.expense_upsert_from_source(
                actor=actor, source_system=source_system, source_id=source_id, data={**data, **known},
                existing_id=None)
        if submit and expense.approval_state in EDITABLE:
            expense = services.expense_submit(actor=actor, expense_id=expense.pk)
    return expense, created


# Stateless serializer instances shared by every request of the create: building a serializer
# deep-copies its fields (and a ModelSerializer introspects its model) each time, a
# noticeable part of a create. ``run_validation`` / ``to_representation`` keep no state on them.
_CREATE_IN = s.ExpenseCreate()
_SUMMARY_OUT = s.ExpenseSummaryOut()


_LIST_PARAMS = [
    OpenApiParameter("approval_state", str, enum=ApprovalState.values),
    OpenApiParameter("posting_state", str, enum=PostingState.values),
    OpenApiParameter("payment_state", str, enum=PaymentState.values),
    OpenApiParameter("employee", str, description="Employee code"),
    OpenApiParameter("source_id", str),
]


@extend_schema(tags=["expenses"])
class ExpenseListCreate(ExpenseScope, ApiMixin, generics.ListAPIView):
    required_scopes = {"get": Scope.EXPENSES_READ, "post": Scope.EXPENSES_WRITE}
    idempotency_in_transaction = True  # key, work and stored answer commit together
    serializer_class = s.ExpenseSummaryOut

    def get_queryset(self):
        qs = self.expenses()
        q = self.request.query_params
        for name in ("approval_state", "posting_state", "payment_state", "source_id"):
            if q.get(name):
                qs = qs.filter(**{name: q[name]})
        if q.get("employee"):
            qs = qs.filter(employee__code=q["employee"])
        return qs

    @extend_schema(summary="List expenses", parameters=_LIST_PARAMS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Create an expense, or amend it when its source reference exists",
                   description="Answers with the expense summary; GET the Location for lines, receipts, policy "
                               "results and approval steps.",
                   request=s.ExpenseCreate, responses={201: s.ExpenseSummaryOut, 200: s.ExpenseSummaryOut})
    def post(self, request):
        try:
            validated = _CREATE_IN.run_validation(request.data)
        except exceptions.ValidationError:
            # The rare path: a serializer of its own reports the errors exactly as is_valid() does.
            s.ExpenseCreate(data=request.data).is_valid(raise_exception=True)
            raise
        expense, created = upsert_one(self, validated)
        location = reverse("expense-detail", kwargs={"eid": expense.public_id})
        # The summary only: re-reading lines, receipts and steps would double the cost of a create.
        return Response(_SUMMARY_OUT.to_representation(expense), status=201 if created else 200,
                        headers={"Location": location})


@extend_schema(tags=["expenses"])
class ExpenseDetail(ExpenseScope, ApiView):
    required_scopes = {"get": Scope.EXPENSES_READ, "patch": Scope.EXPENSES_WRITE}

    @extend_schema(summary="Get an expense", responses={200: s.ExpenseOut})
    def get(self, request, eid):
        return Response(self.detail(self.expense(eid)))

    @extend_schema(summary="Amend an expense (a new revision; material changes re-route approval)",
                   request=s.ExpenseAmend, responses={200: s.ExpenseOut})
    def patch(self, request, eid):
        expense = self.expense(eid)
        data = s.ExpenseAmend(data=request.data)
        data.is_valid(raise_exception=True)
        values = _clean(dict(data.validated_data))
        if "legal_entity" in values:
            self.entity_in_scope(values["legal_entity"])
        expense = services.expense_amend(actor=self.caller.actor, expense_id=expense.pk, data=values)
        return Response(self.detail(expense))


@extend_schema(tags=["expenses"])
class ExpenseSubmit(ExpenseScope, ApiView):
    required_scope = Scope.EXPENSES_WRITE

    @extend_schema(summary="Submit for approval", request=None, responses={200: s.ExpenseOut})
    def post(self, request, eid):
        expense = services.expense_submit(actor=self.caller.actor, expense_id=self.expense(eid).pk)
        return Response(self.detail(expense))


@extend_schema(tags=["expenses"])
class ExpenseWithdraw(ExpenseScope, ApiView):
    required_scope = Scope.EXPENSES_WRITE

    @extend_schema(summary="Withdraw an expense", request=s.WithdrawIn, responses={200: s.ExpenseOut})
    def post(self, request, eid):
        data = s.WithdrawIn(data=request.data)
        data.is_valid(raise_exception=True)
        expense = services.expense_withdraw(actor=self.caller.actor, expense_id=self.expense(eid).pk,
                                            reason=data.validated_data["reason"])
        return Response(self.detail(expense))


@extend_schema(tags=["expenses"])
class ReceiptUpload(ExpenseScope, ApiView):
    required_scope = Scope.EXPENSES_WRITE

    @extend_schema(summary="Upload a receipt (multipart; deduplicated by SHA-256)",
                   request={"multipart/form-data": s.ReceiptUploadIn}, responses={201: s.ReceiptOut})
    def post(self, request, eid):
        expense = self.expense(eid)
        data = s.ReceiptUploadIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        receipt = services.receipt_attach(
            actor=self.caller.actor, expense_id=expense.pk, content=upload.read(), filename=upload.name or "receipt",
            content_type=upload.content_type or "", line_position=data.validated_data.get("line_position"),
        )
        return Response(s.ReceiptOut(receipt).data, status=201)


@extend_schema(tags=["approvals"])
class PendingApprovals(ExpenseScope, ApiMixin, generics.ListAPIView):
    required_scope = Scope.APPROVALS_WRITE
    serializer_class = s.PendingStepOut

    @extend_schema(summary="Approval steps waiting for an approver", parameters=[
        OpenApiParameter("approver", str, required=False, description="Employee code (tokens)"),
        OpenApiParameter("legal_entity", str, required=False, description="The approver's entity code"),
    ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        q = self.request.query_params
        if self.caller.user is not None:
            approver = self.person(q.get("approver"), 0, "approver")
        else:
            entity = self.entity_in_scope(q.get("legal_entity") or "") if q.get("legal_entity") else None
            people = self.caller.entity_filter(Employee.objects.filter(code=q.get("approver") or ""))
            if entity is not None:
                people = people.filter(legal_entity=entity)
            found = list(people[:2])
            if len(found) != 1:
                raise _unknown("approver", "employee (name the legal_entity when the code is ambiguous)")
            approver = found[0]
        return selectors.pending_approvals(approver).filter(expense__in=self.expenses())


@extend_schema(tags=["approvals"])
class ApprovalDecision(ExpenseScope, ApiView):
    required_scope = Scope.APPROVALS_WRITE

    @extend_schema(summary="Approve, return or reject the pending step as an approver",
                   request=s.DecisionIn, responses={200: s.ExpenseOut})
    def post(self, request, eid):
        expense = self.expense(eid)
        data = s.DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        approver = self.person(v.get("approver"), expense.legal_entity_id, "approver")
        expense = services.approval_decide(actor=self.caller.actor, expense_id=expense.pk, approver=approver,
                                           decision=v["decision"], comment=v["comment"])
        return Response(self.detail(expense))


@extend_schema(tags=["finance"])
class FinanceReview(ExpenseScope, ApiView):
    required_scope = Scope.FINANCE_WRITE

    @extend_schema(summary="Finance review (queues the ledger posting)", request=s.FinanceReviewIn,
                   responses={200: s.ExpenseOut})
    def post(self, request, eid):
        expense = self.expense(eid)
        data = s.FinanceReviewIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if self.caller.user is not None:
            reviewer = self.caller.user
        else:
            reviewer = self.person(v.get("reviewer"), expense.legal_entity_id, "reviewer")
        expense = services.expense_finance_review(actor=self.caller.actor, expense_id=expense.pk, reviewer=reviewer,
                                                  comment=v["comment"])
        return Response(self.detail(expense))


@extend_schema(tags=["payments"])
class PaymentStatus(ExpenseScope, ApiView):
    required_scope = Scope.PAYMENTS_WRITE

    @extend_schema(summary="Report that the employee was reimbursed", request=s.PaymentIn, responses={200: s.ExpenseOut})
    def post(self, request, eid):
        expense = self.expense(eid)
        data = s.PaymentIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        paid_by = None
        if v.get("paid_by"):
            paid_by = Employee.objects.filter(legal_entity_id=expense.legal_entity_id, code=v["paid_by"]).first()
            if paid_by is None:
                raise _unknown("paid_by", "employee")
        expense = services.expense_mark_reimbursed(actor=self.caller.actor, expense_id=expense.pk,
                                                   payment_ref=v["payment_ref"], paid_by=paid_by)
        return Response(self.detail(expense))
