"""Fixtures: the Odoo sandbox over real HTTP (profiles 17 and 19) and an ``odoo`` system on it."""

from __future__ import annotations

import xmlrpc.client

import pytest

from controlplane.connections.models import ExternalSystem, OwnershipRule, SystemKind
from controlplane.core.actors import Actor
from integrations.odoo.sandbox.testing import run_sandbox
from tests.factories import CurrencyFactory, LegalEntityFactory


@pytest.fixture(params=["17", "19"])
def sandbox(request, tmp_path):
    """A fresh sandbox per test (its state is the test's given)."""
    with run_sandbox(tmp_path / "odoo", profile=request.param, latency="none") as box:
        box.profile = request.param
        yield box


@pytest.fixture
def odoo_system(db, sandbox) -> ExternalSystem:
    system = ExternalSystem(code="odoo", name="Odoo", kind=SystemKind.ODOO, protocol="xmlrpc",
                           endpoint=sandbox.url, database=sandbox.db, timeout_seconds=20)
    system.set_credentials({"login": sandbox.login, "password": sandbox.password, "api_key": sandbox.api_key})
    system.save()
    return system


@pytest.fixture
def worker() -> Actor:
    return Actor(reason="odoo test worker")


@pytest.fixture
def entity(db, odoo_system):
    """The legal entity matching the sandbox's single company ("My Company", USD)."""
    entity = LegalEntityFactory(code="US01", name="My Company", base_currency=CurrencyFactory(code="USD"),
                                country="US")
    odoo_system.legal_entities.add(entity)
    return entity


def own(system, *kinds, field_group=""):
    """Make ``system`` the system of record for ``kinds``."""
    for kind in kinds:
        OwnershipRule.objects.update_or_create(object_kind=kind, field_group=field_group, stage="",
                                               defaults={"owner": system})


class Rpc:
    """Direct XML-RPC to the sandbox, to plant changes behind the connector's back."""

    def __init__(self, box):
        self.box = box
        common = xmlrpc.client.ServerProxy(f"{box.url}/xmlrpc/2/common", allow_none=True)
        self.uid = common.authenticate(box.db, box.login, box.password, {})
        self.models = xmlrpc.client.ServerProxy(f"{box.url}/xmlrpc/2/object", allow_none=True)

    def __call__(self, model, method, *args, **kwargs):
        return self.models.execute_kw(self.box.db, self.uid, self.box.password, model, method, list(args), kwargs)


@pytest.fixture
def rpc(sandbox) -> Rpc:
    return Rpc(sandbox)
