"""Admin pages of the observability app: the audit-trail CSV export.

``/admin/audit-export/?from=2025-01-01&to=2025-01-31`` streams the audit trail of the period
(dates are whole days, ``to`` included; ISO date-times are taken as given, ``to`` excluded).
Without parameters it shows a small form. Staff only; each person gets the history of the
models they may view (auditors: everything).
"""

from __future__ import annotations

import csv
import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from controlplane.observability.audit import COLUMNS, audit_trail, visible_models

# Cells a spreadsheet would run as a formula; prefixed with a quote (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def parse_bound(raw: str, *, end: bool) -> dt.datetime | None:
    """A period bound: a date (whole day; the ``to`` day is included) or an ISO date-time."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)  # before parse_datetime, which also reads a bare date as midnight
        moment = None if day is not None else parse_datetime(raw)
    except ValueError:
        return None
    if moment is not None:
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    if day is None:
        return None
    if end:
        day += dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_export_view(request):
    """The form (no parameters) or the streamed CSV of ``[from, to)``."""
    models = visible_models(request.user)
    if not models:
        raise PermissionDenied("You may not view any history.")
    if "from" not in request.GET and "to" not in request.GET:
        today = timezone.localdate()
        context = {
            **admin.site.each_context(request),
            "title": "Export the audit trail",
            "default_from": today - dt.timedelta(days=30),
            "default_to": today,
            "model_count": len(models),
        }
        return TemplateResponse(request, "admin/audit_export.html", context)
    start = parse_bound(request.GET.get("from", ""), end=False)
    end = parse_bound(request.GET.get("to", ""), end=True)
    if start is None or end is None or end <= start:
        return HttpResponseBadRequest("Give from and to as ISO dates (YYYY-MM-DD) or date-times, from before to.\n",
                                      content_type="text/plain")
    writer = csv.writer(_Echo())
    user = request.user

    def rows():
        yield writer.writerow(COLUMNS)
        for row in audit_trail(user, start, end):
            yield writer.writerow([_cell(row[c]) if c != "changes" else row[c] for c in COLUMNS])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    name = f"audit-trail_{start:%Y%m%d}-{end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def install(site: admin.AdminSite) -> None:
    """Add this app's pages to ``site``'s URLs (before the admin's catch-all pattern).

    The stock site is kept (no ``AdminSite`` subclass to configure in settings): its
    ``get_urls`` is wrapped once, before the URLconf is first loaded (``AppConfig.ready``).
    """
    if getattr(site, "_observability_installed", False):
        return
    original = site.get_urls

    def get_urls():
        return [path("audit-export/", site.admin_view(audit_export_view), name="audit_export"), *original()]

    site.get_urls = get_urls
    site._observability_installed = True
