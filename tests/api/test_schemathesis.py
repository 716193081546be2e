"""Property-based run of the OpenAPI schema (schemathesis) against the WSGI app, with a token
holding every scope: no 5xx, and status codes, content types, headers and bodies conform to
the schema. About 8 examples per operation (~300 in total)."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
_keys = itertools.count()


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Calling the WSGI app directly sends ``request_finished``, whose receiver closes the
    database connection when it is inside a transaction (so does ``request_started``) — the test's own transaction on
    PostgreSQL. Django's test client disconnects it for the same reason; so do we."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def bearer(make_api):
    return make_api("expenses-app", entities=("US01", "FR01")).client._credentials["HTTP_AUTHORIZATION"]


def _load():
    from controlplane.wsgi import application

    # The schema endpoint needs no database: loading it at collection time is safe.
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


schema = _load()


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(case, bearer, org):
    headers = {"Authorization": bearer}
    if case.method == "POST" and not case.path.startswith("/api/v1/webhooks/"):
        # A fresh key per example, as a client would (the schema's own key examples would collide).
        headers["Idempotency-Key"] = f"st-{next(_keys)}"
    case.call_and_validate(headers=headers, checks=CHECKS)
