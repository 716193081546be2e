"""Each fault-injection knob does what docs/odoo-sandbox.md says (no timing assertions)."""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client

import pytest

from integrations.odoo.sandbox.faults import Faults
from integrations.odoo.sandbox.testing import run_sandbox

from .conftest import Client

CONNECTION_ERRORS = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine,
                     socket.timeout, TimeoutError, OSError)


class TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn

    def request(self, host, handler, request_body, verbose=False):
        # the stdlib Transport silently re-sends once after a reset; a test must see the error
        return self.single_request(host, handler, request_body, verbose)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with run_sandbox(tmp_path_factory.mktemp("faults"), profile="17", seed=7) as proc:
        yield proc


@pytest.fixture()
def odoo(box):
    box.reset_faults()
    client = Client(box)
    yield client
    box.reset_faults()


def _count(odoo: Client, name: str) -> int:
    return odoo("res.partner", "search_count", [("name", "=", name)])


def _create(box, name: str, timeout: float = 10.0):
    proxy = xmlrpc.client.ServerProxy(box.url + "/xmlrpc/2/object", transport=TimeoutTransport(timeout))
    return proxy.execute_kw(box.db, 2, "admin", "res.partner", "create", [{"name": name}])


def test_http_503_before_the_work(box, odoo):
    box.control(error_503_rate=1.0, fault_methods=["res.partner.create"])
    with pytest.raises(xmlrpc.client.ProtocolError) as info:
        _create(box, "never-503")
    assert info.value.errcode == 503
    box.control(error_503_rate=0.0)
    assert _count(odoo, "never-503") == 0
    assert box.stats()["faults_injected"]["http_503"] == 1


def test_connection_reset_before_the_work(box, odoo):
    box.control(reset_rate=1.0, fault_methods=["create"])
    with pytest.raises(CONNECTION_ERRORS):
        _create(box, "never-reset")
    box.control(reset_rate=0.0)
    assert _count(odoo, "never-reset") == 0
    assert box.stats()["faults_injected"]["reset"] == 1


def test_drop_after_commit_every_nth_call(box, odoo):
    box.control(drop_after_commit_every=2, fault_methods=["res.partner.create"])
    assert isinstance(_create(box, "drop-1"), int)  # 1st eligible call answered
    with pytest.raises(CONNECTION_ERRORS):
        _create(box, "drop-2")  # 2nd: committed, then the connection is dropped
    box.control(drop_after_commit_every=0)
    assert _count(odoo, "drop-1") == 1
    assert _count(odoo, "drop-2") == 1  # the record exists although the client saw an error
    assert box.stats()["faults_injected"]["drop_after_commit"] == 1


def test_drop_after_commit_rate(box, odoo):
    box.control(drop_after_commit_rate=1.0, fault_methods=["create"])
    with pytest.raises(CONNECTION_ERRORS):
        _create(box, "drop-rate")
    box.control(drop_after_commit_rate=0.0)
    assert _count(odoo, "drop-rate") == 1


def test_slow_after_commit_outlives_client_timeout(box, odoo):
    box.control(slow_rate=1.0, slow_s=1.0, slow_mode="after", fault_methods=["create"])
    with pytest.raises(CONNECTION_ERRORS):
        _create(box, "slow-after", timeout=0.3)
    box.control(slow_rate=0.0)
    assert _count(odoo, "slow-after") == 1  # work done and committed


def test_slow_before_work_does_nothing(box, odoo):
    box.control(slow_rate=1.0, slow_s=0.5, slow_mode="before", fault_methods=["create"])
    with pytest.raises(CONNECTION_ERRORS):
        _create(box, "slow-before", timeout=0.2)
    box.control(slow_rate=0.0)
    assert _count(odoo, "slow-before") == 0


def test_added_latency_and_stats(box, odoo):
    settings = box.control(latency_ms=20)
    assert settings["latency_ms"] == 20.0
    before = box.stats()["calls"]
    odoo("res.partner", "search", [], limit=1)
    stats = box.stats()
    assert stats["calls"] == before + 1
    assert stats["by_method"]["res.partner.search"] >= 1
    assert stats["faults"]["latency_ms"] == 20.0


def test_unfiltered_rate_hits_other_calls_too(box, odoo):
    box.control(error_503_rate=1.0)  # no fault_methods: every RPC call is eligible
    proxy = xmlrpc.client.ServerProxy(box.url + "/xmlrpc/2/common")
    with pytest.raises(xmlrpc.client.ProtocolError):
        proxy.version()


def test_bad_knob_is_refused(box):
    with pytest.raises(Exception) as info:
        box.control(no_such_knob=1)
    assert "400" in str(info.value)


def test_seeded_rng_is_reproducible():
    from integrations.odoo.sandbox.faults import FaultState

    draws = []
    for _ in range(2):
        state = FaultState(Faults(reset_rate=0.5, seed=42))
        draws.append([state.decide("x.create")[1] for _ in range(50)])
    assert draws[0] == draws[1] and "reset" in draws[0] and None in draws[0]


def test_environment_variables_and_flags(tmp_path, monkeypatch):
    assert Faults.from_env({"SANDBOX_RESET_RATE": "0.25", "SANDBOX_FAULT_METHODS": "create,write"}) == Faults(
        reset_rate=0.25, fault_methods=["create", "write"])
    with run_sandbox(tmp_path, profile="19", latency="realistic", drop_after_commit_every=1,
                     fault_methods="res.partner.create") as box:
        odoo = Client(box)
        assert odoo("res.partner", "search_count", []) >= 1  # realistic latency: still answers
        with pytest.raises(CONNECTION_ERRORS):
            _create(box, "flag-drop")
        assert odoo("res.partner", "search_count", [("name", "=", "flag-drop")]) == 1
        assert box.stats()["faults"]["drop_after_commit_every"] == 1
