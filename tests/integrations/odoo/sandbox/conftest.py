"""Fixtures: one sandbox subprocess per profile and test module, plus XML-RPC helpers."""

from __future__ import annotations

import json
import xmlrpc.client
from pathlib import Path

import pytest

from integrations.odoo.sandbox.testing import run_sandbox

RECORDINGS = Path(__file__).parent / "recordings"


def recording(version: str, name: str) -> dict:
    """A transcript copied from /work/shared/odoo/<version>/ (kept next to the tests)."""
    return json.loads((RECORDINGS / version / name).read_text())


class Client:
    """Minimal XML-RPC client over /xmlrpc/2 or the legacy /xmlrpc path."""

    def __init__(self, sandbox, legacy: bool = False, login: str = "admin", password: str = "admin"):
        prefix = "/xmlrpc/" if legacy else "/xmlrpc/2/"
        self.sandbox = sandbox
        self.common = xmlrpc.client.ServerProxy(sandbox.url + prefix + "common", allow_none=True)
        self.object = xmlrpc.client.ServerProxy(sandbox.url + prefix + "object", allow_none=True)
        self.db = sandbox.db
        self.password = password
        self.uid = self.common.authenticate(self.db, login, password, {})

    def __call__(self, model: str, method: str, *args, **kwargs):
        return self.object.execute_kw(self.db, self.uid, self.password, model, method, list(args), kwargs)

    def call_none(self, model: str, method: str, *args, **kwargs):
        """Call a method that returns None: Odoo answers the marshalling Fault after committing."""
        try:
            return self(model, method, *args, **kwargs)
        except xmlrpc.client.Fault as fault:
            assert "cannot marshal None unless allow_none is enabled" in str(fault.faultString) + str(
                fault.faultCode)
            return None

    def fault(self, model: str, method: str, *args, **kwargs) -> xmlrpc.client.Fault:
        with pytest.raises(xmlrpc.client.Fault) as info:
            self(model, method, *args, **kwargs)
        return info.value


@pytest.fixture(scope="module")
def sandbox17(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("odoo17"), profile="17") as proc:
        yield proc


@pytest.fixture(scope="module")
def sandbox19(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("odoo19"), profile="19") as proc:
        yield proc
