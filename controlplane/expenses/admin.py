"""The expense screens of the admin console.

The admin is a client of the services: an expense's data and its three state axes are
read-only here (no raw save, ever); every change is a transition button or a bulk action
that calls a service in ``controlplane.expenses.services`` with the staff user as actor and
the written reason, so the history names who, from which system and why. A refused
transition (wrong state, segregation of duties...) shows the service's message.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Cast, Coalesce
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from controlplane.approvals.models import ApprovalStep, StepStatus
from controlplane.core.actors import Actor
from controlplane.core.admin import AuditedAdmin
from controlplane.core.errors import DomainError
from controlplane.exceptions.admin import AgeFilter
from controlplane.expenses.admin_inlines import (
    ApprovalChainInline,
    DiffHelper,
    LineInline,
    PolicyInline,
    ReceiptInline,
    RevisionInline,
    admin_link,
)
from controlplane.expenses.admin_transitions import (
    TRANSITIONS,
    TransitionForm,
    available_transitions,
    run_transition,
)
from controlplane.expenses.models import (
    Expense,
    ExpenseAllocation,
    ExpenseLine,
    ExpensePosting,
    ExpenseRevision,
    PolicyCheckResult,
    Receipt,
)

STATE_FIELDS = ("approval_state", "posting_state", "payment_state")
OPEN_JOB_STATES = ("pending", "in_flight", "retry_wait", "dead")


@admin.register(Expense)
class ExpenseAdmin(AuditedAdmin):
    list_display = ("short_id", "source", "employee_name", "legal_entity_code", "amount_base", "amount",
                    *STATE_FIELDS, "policy_flagged", "waiting_on", "open_jobs_display", "age")
    list_display_links = ("short_id", "source")
    list_filter = (*STATE_FIELDS, "legal_entity", "source_system", "policy_flagged", AgeFilter)
    search_fields = ("source_id", "=public_id", "employee__first_name", "employee__last_name", "employee__email",
                     "employee__code")
    list_select_related = ("source_system", "employee", "legal_entity", "legal_entity__base_currency", "currency")
    list_per_page = 100
    actions = ["finance_review_selected"]
    change_form_template = "admin/expenses/expense/change_form.html"
    change_list_template = "admin/expenses/expense/change_list.html"
    object_history_list_template = "admin/expenses/expense/object_history_list.html"
    history_list_display = ["approval_state", "posting_state", "payment_state", "revision", "history_system"]
    fieldsets = [
        (None, {"fields": ["public_id", "source_system", "source_id", "employee", "legal_entity", "purpose"]}),
        ("Amounts", {"fields": ["currency", "total_amount", "total_tax", "total_amount_base", "revision"]}),
        ("State", {"fields": [*STATE_FIELDS, "policy_flagged", "decision_comment", "submitted_at", "approved_at",
                              "finance_reviewed_at", "finance_reviewed_by", "finance_reviewed_by_employee"]}),
        ("Ledger and payment", {"fields": ["posting_reference", "posting_revision", "posted_at", "posting_display",
                                           "paid_at", "payment_reference", "paid_by", "paid_by_user", "archived_at"]}),
        ("Sync jobs and bindings", {"fields": ["sync_jobs", "bindings"]}),
    ]
    inlines = (LineInline, ReceiptInline, PolicyInline, ApprovalChainInline, RevisionInline)

    # --- read-only data: changes are transitions through the services -------------------
    def get_readonly_fields(self, request, obj=None):
        return [name for _title, opts in self.fieldsets for name in opts["fields"]]

    def has_add_permission(self, request):
        return False  # expenses come from their source system

    def has_delete_permission(self, request, obj=None):
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("Expenses change through transitions only.")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request):
        ct = ContentType.objects.get_for_model(Expense)
        from controlplane.sync.models import OutboxJob

        open_jobs = (OutboxJob.objects.filter(content_type=ct, object_id=Cast(OuterRef("pk"), CharField()),
                                              state__in=OPEN_JOB_STATES)
                     .order_by().values("object_id").annotate(n=Count("pk")).values("n"))
        waiting = (ApprovalStep.objects.filter(expense=OuterRef("pk"), status=StepStatus.PENDING)
                   .order_by("cycle", "order").values("approver__code")[:1])
        return super().get_queryset(request).annotate(
            open_jobs=Coalesce(Subquery(open_jobs, output_field=IntegerField()), 0),
            pending_approver=Subquery(waiting),
        )

    def get_historical_record_context_helper(self, request, historical_record):
        return DiffHelper(self.model, historical_record)

    # --- columns --------------------------------------------------------------------------
    @admin.display(description="expense", ordering="public_id")
    def short_id(self, obj):
        return obj.public_id.hex[:12]

    @admin.display(description="source", ordering="source_id")
    def source(self, obj):
        return f"{obj.source_system.code}:{obj.source_id}"

    @admin.display(description="employee", ordering="employee__last_name")
    def employee_name(self, obj):
        e = obj.employee
        return f"{e.first_name} {e.last_name}".strip() or e.code

    @admin.display(description="entity", ordering="legal_entity__code")
    def legal_entity_code(self, obj):
        return obj.legal_entity.code

    @admin.display(description="amount (base)", ordering="total_amount_base")
    def amount_base(self, obj):
        if obj.total_amount_base is None:
            return "— (rate missing)"
        return f"{obj.total_amount_base} {obj.legal_entity.base_currency.code}"

    @admin.display(description="amount", ordering="total_amount")
    def amount(self, obj):
        return f"{obj.total_amount} {obj.currency.code}"

    @admin.display(description="waiting on", ordering="pending_approver")
    def waiting_on(self, obj):
        return getattr(obj, "pending_approver", None) or "—"

    @admin.display(description="open sync jobs", ordering="open_jobs")
    def open_jobs_display(self, obj):
        return getattr(obj, "open_jobs", 0)

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at)

    # --- change page sections ---------------------------------------------------------------
    @admin.display(description="ledger answer")
    def posting_display(self, obj):
        posting = ExpensePosting.objects.filter(expense=obj).first()
        if posting is None:
            return "—"
        return f"{posting.document_name or posting.odoo_ref} (r{posting.revision}, total {posting.amount_total})"

    @admin.display(description="sync jobs")
    def sync_jobs(self, obj):
        from controlplane.sync.models import OutboxJob

        jobs = (OutboxJob.objects.filter(content_type=ContentType.objects.get_for_model(Expense), object_id=str(obj.pk))
                .select_related("target").order_by("created_at"))
        rows = [(admin_link("admin:sync_outboxjob_change", [j.pk], f"#{j.pk}"), j.operation,
                 j.target.code if j.target else "—", j.state, j.attempts, j.last_error[:120] or "—") for j in jobs]
        return self._table(("job", "operation", "target", "state", "attempts", "last error"), rows, "sync-jobs")

    @admin.display(description="bindings")
    def bindings(self, obj):
        from controlplane.connections.models import Binding

        found = (Binding.objects.filter(content_type=ContentType.objects.get_for_model(Expense), object_id=str(obj.pk))
                 .select_related("system").order_by("system__code", "external_model"))
        rows = [(b.system.code, b.external_model, b.external_id, b.external_ref or "—", b.synced_at or "—")
                for b in found]
        return self._table(("system", "remote model", "remote id", "reference", "synced"), rows, "bindings")

    @staticmethod
    def _table(headings, rows, css_id):
        if not rows:
            return "—"
        head = format_html_join("", "<th>{}</th>", ((h,) for h in headings))
        body = format_html_join("", "<tr>{}</tr>", (
            (format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows))
        return format_html('<table id="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', css_id, head, body)

    # --- buttons, bulk action, receipts, reconciliation ----------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        expense = self.get_object(request, object_id)
        allowed = expense is not None and self.has_change_permission(request, expense)
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                 "show_delete": False,
                 "expense_transitions": available_transitions(expense, request.user) if allowed else []}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def changelist_view(self, request, extra_context=None):
        extra = {"can_reconcile": self.has_change_permission(request)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/transition/<str:name>/", view(self.transition_view),
                 name="expenses_expense_transition"),
            path("<path:object_id>/receipts/<int:receipt_id>/", view(self.receipt_view),
                 name="expenses_expense_receipt"),
            path("reconcile/", view(self.reconcile_view), name="expenses_expense_reconcile"),
            *super().get_urls(),
        ]

    def transition_view(self, request, object_id, name):
        """GET: the form for one transition; POST: run it through the service."""
        expense = get_object_or_404(Expense, pk=object_id)
        transition = TRANSITIONS.get(name)
        if transition is None or not self.has_change_permission(request, expense):
            raise PermissionDenied
        change_url = reverse("admin:expenses_expense_change", args=[expense.pk])
        if transition not in available_transitions(expense, request.user):
            self.message_user(request, f"{transition.label} is not possible now.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        form = TransitionForm(request.POST if request.method == "POST" else None, transition=transition)
        if form.is_bound and form.is_valid():
            try:
                run_transition(name, user=request.user, expense_id=expense.pk, note=form.cleaned_data["note"],
                               payment_reference=form.cleaned_data.get("payment_reference", ""))
            except DomainError as exc:
                self.message_user(request, f"{transition.label} refused: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{transition.label}: done.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {**self.admin_site.each_context(request), "title": f"{transition.label}: {expense}",
                   "opts": self.model._meta, "original": expense, "transition": transition, "form": form}
        return TemplateResponse(request, "admin/expenses/expense/transition_form.html", context)

    @admin.action(description="Finance review the selected expenses", permissions=["change"])
    def finance_review_selected(self, request, queryset):
        done, refused = 0, []
        for expense in queryset.order_by("pk"):
            try:
                run_transition("finance_review", user=request.user, expense_id=expense.pk,
                               note="finance review (bulk, admin)")
                done += 1
            except DomainError as exc:
                refused.append(f"{expense.source_id}: {exc.message}")
        if done:
            self.message_user(request, f"Finance reviewed {done} expense(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Refused for {line}", messages.WARNING)

    def receipt_view(self, request, object_id, receipt_id):
        """Staff-only download of a receipt (the storage is not served publicly)."""
        receipt = get_object_or_404(Receipt, pk=receipt_id, expense_id=object_id)
        if not self.has_view_permission(request, receipt.expense):
            raise PermissionDenied
        return FileResponse(receipt.file.open("rb"), as_attachment=True, content_type=receipt.content_type,
                            filename=receipt.original_name or receipt.sha256)

    def reconcile_view(self, request):
        """GET: choose an enabled Odoo system; POST: compare every posted expense with it
        (``reconciliation_run``) and open the run with its differences."""
        from controlplane.connections.models import ExternalSystem, SystemKind
        from controlplane.odoo.models import ReconciliationRun
        from controlplane.odoo.reconciliation import reconciliation_run
        from integrations.errors import IntegrationError

        if not self.has_change_permission(request):
            raise PermissionDenied
        systems = ExternalSystem.objects.filter(kind=SystemKind.ODOO, enabled=True).order_by("code")
        if request.method == "POST":
            system = get_object_or_404(systems, pk=request.POST.get("system"))
            actor = Actor(user=request.user, reason="reconciliation run from the admin")
            try:
                run = reconciliation_run(actor=actor, system=system)
            except IntegrationError as exc:
                self.message_user(request, f"Reconciliation with {system.code} failed: {exc}", messages.ERROR)
                run = ReconciliationRun.objects.filter(system=system).order_by("-pk").first()
            else:
                found = ", ".join(f"{kind}: {n}" for kind, n in sorted(run.counts.items())) or "no differences"
                self.message_user(request, f"Reconciliation #{run.pk} with {system.code}: {run.checked} posted "
                                           f"expense(s) checked; {found}.",
                                  messages.WARNING if run.counts else messages.SUCCESS)
            if run is None:
                return HttpResponseRedirect(reverse("admin:expenses_expense_changelist"))
            return HttpResponseRedirect(reverse("admin:odoo_reconciliationrun_change", args=[run.pk]))
        context = {**self.admin_site.each_context(request), "title": "Reconcile posted expenses with Odoo",
                   "opts": self.model._meta, "systems": systems}
        return TemplateResponse(request, "admin/expenses/expense/reconcile_form.html", context)


# --- the parts, read-only -----------------------------------------------------------------


class ReadOnlyAdmin(AuditedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExpenseLine)
class ExpenseLineAdmin(ReadOnlyAdmin):
    list_display = ("expense", "position", "date", "category", "merchant", "amount", "currency", "amount_base")
    list_filter = ("category", "currency")
    search_fields = ("merchant", "expense__source_id")
    list_select_related = ("expense", "expense__source_system", "category", "currency")


@admin.register(ExpenseAllocation)
class ExpenseAllocationAdmin(ReadOnlyAdmin):
    list_display = ("line", "percent", "project", "cost_centre", "analytic_account")
    list_select_related = ("line", "project", "cost_centre", "analytic_account")


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ("expense", "original_name", "content_type", "size", "sha256", "created_at")
    list_filter = ("content_type",)
    search_fields = ("sha256", "original_name", "expense__source_id")
    list_select_related = ("expense", "expense__source_system")


@admin.register(ExpenseRevision)
class ExpenseRevisionAdmin(ReadOnlyAdmin):
    list_display = ("expense", "revision", "material", "applied", "changed", "actor_label", "created_at")
    list_filter = ("material", "applied")
    list_select_related = ("expense", "expense__source_system")


@admin.register(PolicyCheckResult)
class PolicyCheckResultAdmin(ReadOnlyAdmin):
    list_display = ("expense", "revision", "code", "outcome", "field", "message")
    list_filter = ("outcome", "code")
    list_select_related = ("expense", "expense__source_system")


@admin.register(ExpensePosting)
class ExpensePostingAdmin(ReadOnlyAdmin):
    list_display = ("reference", "expense", "revision", "document_name", "odoo_ref", "amount_total", "created_at")
    search_fields = ("reference", "document_name", "odoo_ref")
    list_select_related = ("expense", "expense__source_system")
