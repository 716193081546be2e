"""API test fixtures: the demo organisation, a second expense platform, tokens, clients."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from rest_framework.test import APIClient

from controlplane.api.models import Scope
from controlplane.api.tokens import api_token_issue
from controlplane.connections.models import ExternalSystem, SystemKind
from controlplane.core.actors import Actor
from controlplane.masterdata.models import LegalEntity

ALL_SCOPES = list(Scope.values)
_keys = itertools.count(1)


class Api:
    """An API client for one token; POSTs get a fresh Idempotency-Key unless one is given."""

    def __init__(self, token: str | None, token_obj=None):
        self.client = APIClient()
        self.token = token_obj
        if token:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def get(self, path, **params):
        return self.client.get(path, params)

    def post(self, path, data=None, *, key: str | None = "auto", fmt="json", **extra):
        headers = {}
        if key == "auto":
            key = f"test-key-{next(_keys)}"
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(path, data if data is not None else {}, format=fmt, **headers, **extra)

    def patch(self, path, data):
        return self.client.patch(path, data, format="json")


@pytest.fixture
def org(db):
    """The demo organisation (US01, FR01; expenses-app, hr, payroll, odoo) plus a second
    expense platform ``travel-tool`` serving both entities."""
    from controlplane.demo.seed import seed_organisation

    seed_organisation()
    other = ExternalSystem.objects.create(code="travel-tool", name="Travel tool", kind=SystemKind.EXPENSE_PLATFORM)
    other.legal_entities.set(LegalEntity.objects.all())
    return {"US01": LegalEntity.objects.get(code="US01"), "FR01": LegalEntity.objects.get(code="FR01")}


@pytest.fixture
def make_api(org):
    def make(system: str = "expenses-app", scopes=None, entities=("US01",), expires_at=None) -> Api:
        token, clear = api_token_issue(
            actor=Actor(reason="test"), system=ExternalSystem.objects.get(code=system),
            scopes=ALL_SCOPES if scopes is None else scopes,
            legal_entities=LegalEntity.objects.filter(code__in=entities), expires_at=expires_at,
        )
        return Api(clear, token)

    return make


def expense_body(source_id: str = "EXP-1", *, entity: str = "US01", employee: str = "US-EMP1", amount: str = "115.00",
                 submit: bool = False, lines: int = 1) -> dict:
    today = dt.date.today().isoformat()
    return {
        "source_id": source_id, "legal_entity": entity, "employee": employee, "purpose": "Client visit",
        "currency": "USD" if entity == "US01" else "EUR", "submit": submit,
        "lines": [{"date": today, "category": "TRAVEL", "merchant": "Rail", "amount": amount} for _ in range(lines)],
    }
