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
