"""``/api/v1/…``, the OpenAPI schema at ``/api/schema/`` and the docs at ``/api/docs/``."""

from __future__ import annotations

from pathlib import Path

import drf_spectacular_sidecar
from django.urls import path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from controlplane.api.problems import not_found
from controlplane.api.views import decisions_bulk, expenses, expenses_bulk, masterdata, ops, webhooks

_SIDECAR = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"

v1 = [
    path("expenses/", expenses.ExpenseListCreate.as_view(), name="expense-list"),
    path("expenses/bulk/", expenses_bulk.ExpenseBulk.as_view(), name="expense-bulk"),
    path("expenses/<uuid:eid>/", expenses.ExpenseDetail.as_view(), name="expense-detail"),
    path("expenses/<uuid:eid>/submit/", expenses.ExpenseSubmit.as_view(), name="expense-submit"),
    path("expenses/<uuid:eid>/withdraw/", expenses.ExpenseWithdraw.as_view(), name="expense-withdraw"),
    path("expenses/<uuid:eid>/receipts/", expenses.ReceiptUpload.as_view(), name="expense-receipts"),
    path("expenses/<uuid:eid>/decision/", expenses.ApprovalDecision.as_view(), name="expense-decision"),
    path("expenses/<uuid:eid>/finance-review/", expenses.FinanceReview.as_view(), name="expense-finance-review"),
    path("expenses/<uuid:eid>/payment/", expenses.PaymentStatus.as_view(), name="expense-payment"),
    path("approvals/pending/", expenses.PendingApprovals.as_view(), name="approvals-pending"),
    path("approvals/bulk/", decisions_bulk.ApprovalDecisionBulk.as_view(), name="approvals-bulk"),
    path("finance-reviews/bulk/", decisions_bulk.FinanceReviewBulk.as_view(), name="finance-reviews-bulk"),
    path("event-subscriptions/", ops.SubscriptionListCreate.as_view(), name="subscription-list"),
    path("event-subscriptions/<uuid:sid>/", ops.SubscriptionDetail.as_view(), name="subscription-detail"),
    path("event-subscriptions/<uuid:sid>/rotate-secret/", ops.SubscriptionRotate.as_view(), name="subscription-rotate"),
    path("event-subscriptions/<uuid:sid>/disable/", ops.SubscriptionDisable.as_view(), name="subscription-disable"),
    path("exceptions/", ops.ExceptionList.as_view(), name="exception-list"),
    path("exceptions/<int:pk>/", ops.ExceptionDetail.as_view(), name="exception-detail"),
    path("exceptions/<int:pk>/resolve/", ops.ExceptionResolve.as_view(), name="exception-resolve"),
    path("sync/replay/", ops.OutboxReplay.as_view(), name="outbox-replay"),
    path("webhooks/<slug:system>/", webhooks.InboundWebhookView.as_view(), name="inbound-webhook"),
]
for slug, (list_view, bulk_view) in masterdata.VIEWS.items():
    v1 += [
        path(f"masterdata/{slug}/", list_view.as_view(), name=f"masterdata-{slug}"),
        path(f"masterdata/{slug}/bulk/", bulk_view.as_view(), name=f"masterdata-{slug}-bulk"),
    ]

urlpatterns = [
    *(path(f"v1/{p.pattern}", p.callback, name=p.name) for p in v1),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Swagger UI / Redoc assets from drf-spectacular-sidecar: the docs need no CDN.
    re_path(r"^docs/assets/(?P<path>(swagger-ui-dist|redoc)/.+)$", serve, {"document_root": str(_SIDECAR)}),
    # Anything else under /api/v1/ (including ids that are not UUIDs) is a problem-details 404.
    re_path(r"^v1/", not_found),
]
