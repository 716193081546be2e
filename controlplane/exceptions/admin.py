"""The exception queue: where finance operations work what needs a person.

The admin is a client of ``controlplane.exceptions.services`` (and of the sync engine's
``outbox_replay`` for retries): records are read-only here, every change is an action that
calls a service with the staff user as actor, so it is in the history with its reason.
Actions work in bulk from the list and one at a time from buttons on the record's page;
resolve, override, dismiss and retry first ask for their written note on an intermediate page.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Case, DurationField, ExpressionWrapper, F, IntegerField, Value, When
from django.db.models.functions import Coalesce, Now
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from controlplane.core.actors import Actor
from controlplane.core.admin import AuditedAdmin
from controlplane.core.errors import DomainError
from controlplane.exceptions import services
from controlplane.exceptions.models import ExceptionRecord, ExceptionStatus, Severity

SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
SEVERITY_COLOUR = {Severity.LOW: "#5b7083", Severity.MEDIUM: "#b07d00", Severity.HIGH: "#c0392b", Severity.CRITICAL: "#7b0000"}


# --- filters ------------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active (open or in progress)"), ("closed", "Closed"), *ExceptionStatus.choices]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "active":
            return queryset.filter(status__in=ExceptionStatus.active())
        if value == "closed":
            return queryset.filter(status__in=ExceptionStatus.closed())
        if value in ExceptionStatus.values:
            return queryset.filter(status=value)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """How long ago the exception was opened."""

    title = "age"
    parameter_name = "age"
    BUCKETS = {
        "lt1d": ("Less than a day", None, dt.timedelta(days=1)),
        "1to3d": ("1–3 days", dt.timedelta(days=1), dt.timedelta(days=3)),
        "3to7d": ("3–7 days", dt.timedelta(days=3), dt.timedelta(days=7)),
        "7to30d": ("7–30 days", dt.timedelta(days=7), dt.timedelta(days=30)),
        "gt30d": ("More than 30 days", dt.timedelta(days=30), None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _lo, _hi) in self.BUCKETS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BUCKETS:
            return queryset
        _label, older_than, younger_than = self.BUCKETS[self.value()]
        now = timezone.now()
        if older_than is not None:
            queryset = queryset.filter(created_at__lte=now - older_than)
        if younger_than is not None:
            queryset = queryset.filter(created_at__gt=now - younger_than)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        users = (get_user_model().objects.filter(assigned_exceptions__isnull=False)
                 .distinct().order_by("username").only("pk", "username"))
        return [("me", "Assigned to me"), ("none", "Unassigned"), *((str(u.pk), u.get_username()) for u in users)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


# --- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    name: str
    label: str
    text_label: str = ""  # empty: the action needs no written text
    min_length: int = 0
    help_text: str = ""

    @property
    def needs_text(self) -> bool:
        return bool(self.text_label)


SPECS = {
    "assign": ActionSpec("assign", "Assign to me"),
    "resolve": ActionSpec("resolve", "Resolve", "Resolution note", 3, "What was done to fix it."),
    "override": ActionSpec("override", "Override", "Justification", 10,
                           "Why the control is overridden: required, at least 10 characters; it is kept in the history."),
    "dismiss": ActionSpec("dismiss", "Dismiss", "Reason", 3, "Why this needs no action."),
    "retry": ActionSpec("retry", "Retry the linked sync job", "Reason", 3,
                        "What changed so that the job can succeed now (e.g. which mapping was fixed)."),
}


class ActionTextForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))

    def __init__(self, *args, spec: ActionSpec, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].label = spec.text_label
        self.fields["text"].min_length = spec.min_length
        self.fields["text"].help_text = spec.help_text
        self.fields["text"].validators.append(forms.fields.validators.MinLengthValidator(spec.min_length))


def linked_job_id(record: ExceptionRecord) -> int | None:
    """The outbox job this exception is about: its subject, or the job the payload names."""
    if record.content_type_id and record.content_type.app_label == "sync" and record.content_type.model == "outboxjob":
        return int(record.object_id) if record.object_id.isdigit() else None
    payload = record.payload if isinstance(record.payload, dict) else {}
    for key in ("job_id", "outbox_job_id"):
        value = payload.get(key)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return None


def _admin_link(app_label: str, model: str, object_id, text: str):
    try:
        url = reverse(f"admin:{app_label}_{model}_change", args=[object_id])
    except NoReverseMatch:
        return text
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(ExceptionRecord)
class ExceptionRecordAdmin(AuditedAdmin):
    list_display = ["id", "severity_badge", "kind", "status", "title", "legal_entity", "department", "system",
                    "subject_link", "assignee", "age", "open_for_display"]
    list_display_links = ["id", "title"]
    list_filter = [StatusFilter, "kind", "severity", "legal_entity", "department", "system", AgeFilter, AssigneeFilter]
    list_select_related = ["legal_entity", "department", "system", "assignee", "content_type"]
    search_fields = ["title", "detail", "dedupe_key", "object_id"]
    list_per_page = 100
    actions = ["assign_to_me", "resolve_selected", "override_selected", "dismiss_selected", "retry_selected"]
    change_form_template = "admin/exceptions/exceptionrecord/change_form.html"
    fieldsets = [
        (None, {"fields": ["title", "kind", "severity", "status", "assignee", "detail"]}),
        ("Where", {"fields": ["legal_entity", "department", "system", "subject_link", "linked_job"]}),
        ("Payload as received", {"fields": ["payload_pretty"]}),
        ("Resolution", {"fields": ["resolution", "closed_at", "closed_by"]}),
        ("Record", {"fields": ["dedupe_key", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    # --- read-only: every change is an action through the services ----------------------
    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def has_add_permission(self, request):
        return False  # exceptions are opened by the services that detect them

    def has_delete_permission(self, request, obj=None):
        return False  # dismiss instead: the record and its history stay

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            severity_rank=Case(*(When(severity=k, then=Value(v)) for k, v in SEVERITY_RANK.items()),
                               default=Value(0), output_field=IntegerField()),
            open_for=ExpressionWrapper(Coalesce("closed_at", Now()) - F("created_at"), output_field=DurationField()),
        )

    # --- columns --------------------------------------------------------------------------
    @admin.display(description="severity", ordering="severity_rank")
    def severity_badge(self, obj):
        return format_html('<strong style="color: {}">{}</strong>', SEVERITY_COLOUR.get(obj.severity, "inherit"),
                           obj.get_severity_display())

    @admin.display(description="concerns")
    def subject_link(self, obj):
        if not obj.content_type_id:
            return "—"
        ct = obj.content_type
        return _admin_link(ct.app_label, ct.model, obj.object_id, f"{ct.model} #{obj.object_id}")

    @admin.display(description="sync job")
    def linked_job(self, obj):
        job_id = linked_job_id(obj)
        return "—" if job_id is None else _admin_link("sync", "outboxjob", job_id, f"outbox job #{job_id}")

    @admin.display(description="age", ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at)

    @admin.display(description="open for", ordering="open_for")
    def open_for_display(self, obj):
        value = getattr(obj, "open_for", None)
        if value is None:
            return "—"
        return timesince(timezone.now() - value) if obj.closed_at is None else timesince(obj.created_at, obj.closed_at)

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
                           json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False, default=str))

    # --- bulk actions -----------------------------------------------------------------------
    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        self.apply(request, list(queryset.values_list("pk", flat=True)), SPECS["assign"], "")

    @admin.action(description="Resolve… (with a note)", permissions=["change"])
    def resolve_selected(self, request, queryset):
        return self._text_action(request, queryset, SPECS["resolve"], "resolve_selected")

    @admin.action(description="Override… (written justification)", permissions=["change"])
    def override_selected(self, request, queryset):
        return self._text_action(request, queryset, SPECS["override"], "override_selected")

    @admin.action(description="Dismiss… (with a reason)", permissions=["change"])
    def dismiss_selected(self, request, queryset):
        return self._text_action(request, queryset, SPECS["dismiss"], "dismiss_selected")

    @admin.action(description="Retry the linked sync job…", permissions=["change"])
    def retry_selected(self, request, queryset):
        return self._text_action(request, queryset, SPECS["retry"], "retry_selected")

    def _text_action(self, request, queryset, spec: ActionSpec, action_name: str):
        """The intermediate page: ask for the text, then apply to the selected records."""
        form = ActionTextForm(request.POST if "apply" in request.POST else None, spec=spec)
        if form.is_bound and form.is_valid():
            self.apply(request, list(queryset.values_list("pk", flat=True)), spec, form.cleaned_data["text"])
            return None  # back to the list
        records = list(queryset.select_related("legal_entity", "system"))
        return self._render_form(request, spec, form, records, action_name=action_name)

    def _render_form(self, request, spec, form, records, *, action_name: str = ""):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{spec.label}: {len(records)} exception(s)",
            "opts": self.model._meta,
            "spec": spec,
            "form": form,
            "records": records,
            "action_name": action_name,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/exceptions/exceptionrecord/action_form.html", context)

    def apply(self, request, ids: list[int], spec: ActionSpec, text: str) -> None:
        """Run ``spec`` on each record through the services; report successes and refusals."""
        actor = Actor(user=request.user)
        if spec.name == "retry":
            self._retry(request, ids, actor, text)
            return
        call = {
            "assign": lambda pk: services.exception_assign(actor=actor, exception_id=pk),
            "resolve": lambda pk: services.exception_resolve(actor=actor, exception_id=pk, note=text),
            "override": lambda pk: services.exception_override(actor=actor, exception_id=pk, justification=text),
            "dismiss": lambda pk: services.exception_dismiss(actor=actor, exception_id=pk, reason=text),
        }[spec.name]
        done, refused = 0, []
        for pk in ids:
            try:
                call(pk)
                done += 1
            except DomainError as exc:
                refused.append(f"#{pk}: {exc}")
        if done:
            self.message_user(request, f"{spec.label}: {done} exception(s) done.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"{spec.label} refused for {line}", messages.WARNING)

    def _retry(self, request, ids: list[int], actor: Actor, reason: str) -> None:
        from controlplane.sync.services import outbox_replay

        records = ExceptionRecord.objects.filter(pk__in=ids).select_related("content_type")
        job_ids = {pk: linked_job_id(r) for r, pk in ((r, r.pk) for r in records)}
        without = sorted(pk for pk, job in job_ids.items() if job is None)
        wanted = sorted({job for job in job_ids.values() if job is not None})
        try:
            replayed = outbox_replay(actor=actor, job_ids=wanted, reason=reason) if wanted else []
        except DomainError as exc:
            self.message_user(request, f"Retry refused: {exc}", messages.ERROR)
            return
        self.message_user(request, f"{len(replayed)} of {len(wanted)} linked sync job(s) sent back to the queue.",
                          messages.SUCCESS if replayed else messages.WARNING)
        if without:
            self.message_user(request, f"No linked sync job for exception(s) {', '.join(f'#{p}' for p in without)}.",
                              messages.WARNING)

    # --- one record at a time: buttons on the change page ---------------------------------
    def get_urls(self):
        opts = self.model._meta
        return [
            path("<path:object_id>/act/<str:action>/", self.admin_site.admin_view(self.act_view),
                 name=f"{opts.app_label}_{opts.model_name}_act"),
            *super().get_urls(),
        ]

    def act_view(self, request, object_id, action):
        """``GET`` the form for one record, ``POST`` it to apply (403 without change permission)."""
        spec = SPECS.get(action)
        record = get_object_or_404(self.get_queryset(request), pk=object_id)
        if spec is None or not self.has_change_permission(request, record):
            raise PermissionDenied
        change_url = reverse("admin:exceptions_exceptionrecord_change", args=[record.pk])
        if request.method == "POST":
            form = ActionTextForm(request.POST, spec=spec) if spec.needs_text else None
            if form is None or form.is_valid():
                self.apply(request, [record.pk], spec, form.cleaned_data["text"] if form else "")
                return HttpResponseRedirect(change_url)
        else:
            form = ActionTextForm(spec=spec) if spec.needs_text else None
        return self._render_form(request, spec, form, [record])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = self.get_object(request, object_id)
        extra = {
            "show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
            "show_delete": False,
            "exception_actions": [] if record is None or not self.has_change_permission(request, record)
            else self._available(record),
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @staticmethod
    def _available(record: ExceptionRecord) -> list[ActionSpec]:
        if not record.is_active:
            return [SPECS["retry"]] if linked_job_id(record) else []
        names = ["assign", "resolve", "override", "dismiss"] + (["retry"] if linked_job_id(record) else [])
        return [SPECS[n] for n in names]
