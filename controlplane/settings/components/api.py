"""Django REST framework, the API's security defaults and the OpenAPI schema."""

from __future__ import annotations

from controlplane.settings.env import env_str

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "controlplane.api.schema.ApiAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "controlplane.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["controlplane.api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser", "rest_framework.parsers.MultiPartParser"],
    "EXCEPTION_HANDLER": "controlplane.api.problems.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "controlplane.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["controlplane.api.throttling.CallerRateThrottle"],
    # Per calling system (or staff user), per process: a guard against runaway clients.
    "DEFAULT_THROTTLE_RATES": {"caller": env_str("API_THROTTLE_RATE", "200/s")},
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": None,
}

# Receipts up to RECEIPT_MAX_BYTES arrive in one request; the raw body is read once for the
# idempotency fingerprint, so the body limit sits just above the receipt limit.
RECEIPT_MAX_BYTES = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = RECEIPT_MAX_BYTES + 256 * 1024

SPECTACULAR_SETTINGS = {
    "TITLE": "Expense integration control plane API",
    "DESCRIPTION": (
        "Submit and amend expenses, decide approvals, push master data and payment status, "
        "subscribe to events. Authenticate with `Authorization: Bearer cpt_…`; every POST needs "
        "an `Idempotency-Key`; errors are RFC 9457 problem details (`application/problem+json`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    # Swagger UI and Redoc assets come from drf-spectacular-sidecar, served by controlplane.api.urls
    # (no CDN: the docs work offline).
    "SWAGGER_UI_DIST": "/api/docs/assets/swagger-ui-dist",
    "SWAGGER_UI_FAVICON_HREF": "/api/docs/assets/swagger-ui-dist/favicon-32x32.png",
    "REDOC_DIST": "/api/docs/assets/redoc",
}
