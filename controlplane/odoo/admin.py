"""Basic admin for the Odoo app's integration state; actions call the services.
(The full finance-operations console is later work.)"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from controlplane.core.actors import Actor
from controlplane.core.admin import AuditedAdmin
from controlplane.core.errors import DomainError
from controlplane.odoo.models import ImportCursor, PostingLedger, ReconciliationItem, ReconciliationRun
from controlplane.odoo.reconciliation_actions import (
    reconciliation_item_link,
    reconciliation_item_open_exception,
    reconciliation_item_repost,
    reconciliation_item_resolve,
)
from integrations.errors import IntegrationError


@admin.register(ImportCursor)
class ImportCursorAdmin(AuditedAdmin):
    list_display = ["system", "kind", "watermark", "last_run_at", "last_counts"]
    list_filter = ["system", "kind"]
    list_select_related = ["system"]
    readonly_fields = ["last_counts", "last_run_at"]


@admin.register(PostingLedger)
class PostingLedgerAdmin(AuditedAdmin):
    list_display = ["reference", "system", "mode", "state", "document_name", "amount_total", "currency_code",
                    "payment_state", "attempts", "outcome_unknown", "updated_at"]
    list_filter = ["state", "mode", "system", "outcome_unknown", "payment_state"]
    search_fields = ["reference", "document_name", "expense__public_id"]
    list_select_related = ["system"]
    raw_id_fields = ["expense"]
    readonly_fields = ["claim_token", "lease_until", "attempts", "odoo_ids", "move_ids", "posted_at", "read_back_at"]


class ItemInline(admin.TabularInline):
    model = ReconciliationItem
    extra = 0
    fields = ["reference", "kind", "status", "detail", "action"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(AuditedAdmin):
    list_display = ["id", "system", "status", "checked", "counts", "created_at", "finished_at", "started_by"]
    list_filter = ["status", "system"]
    list_select_related = ["system"]
    readonly_fields = ["checked", "counts", "error", "finished_at", "started_by"]
    inlines = [ItemInline]


def _each(modeladmin, request, queryset, call, done: str) -> None:
    actor = Actor(user=request.user, reason=done)
    ok = 0
    for item in queryset:
        try:
            call(actor, item)
            ok += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{item.reference}: {exc}", messages.ERROR)
    if ok:
        modeladmin.message_user(request, f"{ok} item(s): {done}.", messages.SUCCESS)


@admin.action(description="Re-post the missing document (new posting job)")
def repost(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, item: reconciliation_item_repost(actor=actor, item_id=item.pk, reason="re-post from admin"),
          "re-post queued")


@admin.action(description="Open a reconciliation exception")
def open_exception(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, item: reconciliation_item_open_exception(actor=actor, item_id=item.pk),
          "exception opened")


@admin.action(description="Mark resolved")
def resolve(modeladmin, request, queryset):
    _each(modeladmin, request, queryset,
          lambda actor, item: reconciliation_item_resolve(actor=actor, item_id=item.pk, note="resolved in admin"),
          "resolved")


class LinkForm(forms.Form):
    document = forms.CharField(label="Odoo journal entry", max_length=64,
                               help_text="Its id, or its number as Odoo shows it (e.g. BILL/2026/00012).")
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="Why this entry is the expense's document (kept in the history).")


@admin.action(description="Link to an existing Odoo document…", permissions=["change"])
def link_existing(modeladmin, request, queryset):
    """Intermediate page for one item: the entry (id or number) and a reason, then the service."""
    items = list(queryset.select_related("run__system")[:2])
    if len(items) != 1:
        modeladmin.message_user(request, "Select exactly one item to link.", messages.WARNING)
        return None
    item = items[0]
    form = LinkForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        try:
            reconciliation_item_link(actor=Actor(user=request.user), item_id=item.pk,
                                     odoo_move_id=form.cleaned_data["document"], reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_error("document", str(exc))
        except IntegrationError as exc:  # Odoo unreachable or timing out: nothing was changed here
            form.add_error(None, f"Odoo did not answer, try again: {exc}")
        else:
            item.refresh_from_db()
            modeladmin.message_user(request, f"{item.reference}: linked to {item.action_note}", messages.SUCCESS)
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Link {item.reference} to an existing Odoo document",
        "opts": modeladmin.model._meta,
        "item": item,
        "candidates": (item.found or {}).get("moves", []),
        "form": form,
        "action_name": "link_existing",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/odoo/reconciliationitem/link_form.html", context)


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(AuditedAdmin):
    list_display = ["reference", "kind", "status", "run", "action", "exception", "created_at"]
    list_filter = ["kind", "status", "run__system"]
    search_fields = ["reference", "detail"]
    list_select_related = ["run", "run__system", "exception"]
    raw_id_fields = ["expense", "exception", "outbox_job", "run"]
    actions = [repost, link_existing, open_exception, resolve]
