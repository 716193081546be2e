"""Tokens: shown once, stored hashed, issued by the command, refused outside their system's entities."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command

from controlplane.api.models import ApiToken
from controlplane.api.tokens import api_token_check, api_token_issue
from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor
from controlplane.core.errors import ValidationFailed
from controlplane.masterdata.models import LegalEntity

pytestmark = pytest.mark.django_db


def test_command_prints_a_token_stored_only_as_a_hash(org):
    out = StringIO()
    call_command("api_token_issue", "expenses-app", "--scope", "expenses:read", "--entity", "US01", stdout=out)
    clear = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert clear.startswith(f"cpt_{token.prefix}_")
    assert token.token_hash == hashlib.sha256(clear.encode()).hexdigest()
    assert clear not in str(list(ApiToken.objects.values()))
    assert api_token_check(clear) == token and token.scopes == ["expenses:read"]
    assert api_token_check(clear[:-1] + ("A" if clear[-1] != "A" else "B")) is None


def test_token_cannot_reach_entities_its_system_does_not_serve(org):
    hr = ExternalSystem.objects.get(code="hr")
    hr.legal_entities.set([org["US01"]])
    with pytest.raises(ValidationFailed) as info:
        api_token_issue(actor=Actor(reason="t"), system=hr, scopes=["masterdata:read"],
                        legal_entities=LegalEntity.objects.filter(code="FR01"))
    assert info.value.errors[0].code == "not_served"


def test_admin_never_shows_the_hash(org, admin_client):
    api_token_issue(actor=Actor(reason="t"), system=ExternalSystem.objects.get(code="hr"), scopes=["masterdata:read"],
                    legal_entities=[org["US01"]])
    token = ApiToken.objects.get()
    page = admin_client.get(f"/admin/api/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    assert token.token_hash.encode() not in page.content
    listing = admin_client.get("/admin/api/apitoken/")
    assert token.prefix.encode() in listing.content
