"""The Odoo system from the environment, and call metrics/logs on a real call."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor
from controlplane.core.errors import ValidationFailed
from controlplane.odoo.connection import odoo_client, odoo_system_from_env

pytestmark = pytest.mark.django_db


def test_env_creates_then_updates_the_odoo_system_without_losing_credentials():
    # given no odoo system, when the environment names one
    env = {"ODOO_URL": "https://erp.example.com", "ODOO_DB": "prod", "ODOO_LOGIN": "bot", "ODOO_PASSWORD": "s3cret"}
    system = odoo_system_from_env(Actor(reason="boot"), environ=env)
    # then it exists with decrypted credentials and the default protocol
    assert (system.endpoint, system.database, system.protocol) == ("https://erp.example.com", "prod", "xmlrpc")
    assert system.credential_values() == {"login": "bot", "password": "s3cret"}
    # when only an API key and JSON-2 are given later
    again = odoo_system_from_env(Actor(reason="boot"), environ={"ODOO_URL": "https://erp.example.com",
                                                                "ODOO_API_KEY": "k", "ODOO_PROTOCOL": "json2s"})
    # then the same row is updated and the login survives
    assert again.pk == system.pk and again.protocol == "json2s"
    assert again.credential_values() == {"login": "bot", "password": "s3cret", "api_key": "k"}
    assert ExternalSystem.objects.filter(kind="odoo").count() == 1
    # and nothing happens without ODOO_URL, while a bad protocol is refused
    assert odoo_system_from_env(Actor(), environ={}) is None
    with pytest.raises(ValidationFailed):
        odoo_system_from_env(Actor(), environ={"ODOO_URL": "https://x.example", "ODOO_PROTOCOL": "soap"})


def test_every_call_is_measured(odoo_system):
    # given a client built from the system
    client = odoo_client(odoo_system)
    labels = {"system": "odoo", "model": "res.company", "method": "search_read", "outcome": "ok"}
    before = REGISTRY.get_sample_value("odoo_call_seconds_count", labels) or 0
    # when it calls Odoo
    client.search_read("res.company", [], ["name"])
    # then the histogram counted the call
    assert REGISTRY.get_sample_value("odoo_call_seconds_count", labels) == before + 1
