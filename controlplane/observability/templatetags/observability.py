"""``{% dashboard as dash %}``: the operations dashboard for the admin home page.

A template tag rather than a custom ``AdminSite``: the stock admin site stays as it is, and
the figures are computed only for people allowed to see them (``None`` for anyone else).
"""

from __future__ import annotations

from django import template

from controlplane.observability.dashboard import can_see_dashboard, dashboard_context

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if not can_see_dashboard(user):
        return None
    return dashboard_context()
