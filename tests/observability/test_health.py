"""``/health/ready``: database, broker and every enabled external system."""

from __future__ import annotations

import socket

import pytest

from controlplane.connections.models import SystemKind
from tests import factories as f

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ready_when_database_and_broker_answer(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_a_system_that_does_not_answer_makes_it_unready_and_is_named(client):
    f.ExternalSystemFactory(code="payroll", kind=SystemKind.PAYROLL, endpoint=f"http://127.0.0.1:{closed_port()}/")
    f.ExternalSystemFactory(code="hr", kind=SystemKind.HR, endpoint="")  # calls us: nothing to probe
    f.ExternalSystemFactory(code="bank", kind=SystemKind.BANK, enabled=False,
                            endpoint=f"http://127.0.0.1:{closed_port()}/")
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["system:payroll"]
    assert body["checks"]["system:hr"]["ok"] is True
    assert "system:bank" not in body["checks"]


def test_a_listening_system_is_ready(client):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        f.ExternalSystemFactory(code="archive", kind=SystemKind.ARCHIVE, endpoint=f"http://127.0.0.1:{port}/")
        response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["system:archive"] == {
        "ok": True, "kind": "archive", "target": f"127.0.0.1:{port}",
        "duration_ms": response.json()["checks"]["system:archive"]["duration_ms"],
    }


def test_an_unconfigured_odoo_is_reported_not_ready(client):
    f.ExternalSystemFactory(code="odoo", kind=SystemKind.ODOO, endpoint="")
    body = client.get("/health/ready").json()
    assert body["failing"] == ["system:odoo"]
    assert "not configured" in body["checks"]["system:odoo"]["detail"]


def test_a_broker_that_does_not_answer_makes_it_unready(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/6"
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


@pytest.mark.redis
def test_ready_with_the_redis_broker(client, settings):
    import os

    settings.CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["kind"] == "redis"


@pytest.mark.slow
def test_ready_follows_the_odoo_sandbox(client, tmp_path):
    from integrations.odoo.sandbox.testing import run_sandbox

    with run_sandbox(tmp_path, profile="17") as odoo:
        system = f.ExternalSystemFactory(code="odoo", kind=SystemKind.ODOO, endpoint=odoo.url, protocol="xmlrpc",
                                         database=odoo.db)
        system.set_credentials({"login": odoo.login, "password": odoo.password})
        system.save()
        # given the sandbox up: ready, with the version it reports
        up = client.get("/health/ready")
        assert up.status_code == 200, up.json()
        assert up.json()["checks"]["system:odoo"]["version"].startswith("17")
        # when it stops
        odoo.stop()
        down = client.get("/health/ready")
        # then not ready, naming the system
        assert down.status_code == 503
        assert down.json()["failing"] == ["system:odoo"]
        odoo.start()
        assert client.get("/health/ready").status_code == 200
