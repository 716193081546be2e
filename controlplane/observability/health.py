"""Readiness checks: the database, the broker and every enabled external system.

Each check returns ``{"ok": bool, "duration_ms": float, ...}``. External systems are probed
in parallel threads, each with a short timeout, so one dead peer costs at most ``TIMEOUT_S``:

- Odoo: the ``version`` call through the connector (``controlplane.odoo.connection``) —
  it needs no login, so a wrong password does not make us "not ready";
- any other system with an endpoint: a TCP connection to its host and port;
- a system without an endpoint (it only calls us): nothing to probe, reported as skipped.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from django.db import DatabaseError, connection

from controlplane.connections.models import ExternalSystem, SystemKind
from controlplane.core.errors import ValidationFailed
from controlplane.observability import broker
from integrations.errors import IntegrationError

TIMEOUT_S = 2.0


def _timed(fn: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    result = fn()
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict:
    """One ``SELECT 1`` on the default connection."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor}
    except DatabaseError as exc:
        return {"ok": False, "vendor": connection.vendor, "detail": f"{type(exc).__name__}: {exc}"}


def _probe_odoo(system: ExternalSystem) -> Callable[[], dict]:
    """Build the Odoo probe in the calling thread (credentials decrypted there), run it later."""
    from controlplane.odoo.connection import odoo_config
    from integrations.odoo.client import OdooClient

    try:
        config = odoo_config(system)
    except ValidationFailed as exc:
        message = exc.args[0] if exc.args else "not configured"
        return lambda: {"ok": False, "kind": system.kind, "detail": f"not configured: {message}"}
    config = dataclasses.replace(config, timeout=min(config.timeout, TIMEOUT_S),
                                 connect_timeout=min(config.connect_timeout, TIMEOUT_S))
    client = OdooClient(config)

    def probe() -> dict:
        try:
            version = client.version()
        except (IntegrationError, ValueError) as exc:  # ValueError: not a version document
            return {"ok": False, "kind": system.kind, "detail": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "kind": system.kind, "version": version.label}

    return probe


def _probe_tcp(system: ExternalSystem) -> Callable[[], dict]:
    parts = urlsplit(system.endpoint)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return lambda: {"ok": False, "kind": system.kind, "detail": "endpoint has an invalid port"}

    def probe() -> dict:
        try:
            with socket.create_connection((host, port), timeout=TIMEOUT_S):
                return {"ok": True, "kind": system.kind, "target": f"{host}:{port}"}
        except OSError as exc:
            return {"ok": False, "kind": system.kind, "target": f"{host}:{port}",
                    "detail": f"{type(exc).__name__}: {exc}"}

    return probe


def system_probe(system: ExternalSystem) -> Callable[[], dict] | None:
    """The probe for ``system``; None when there is nothing to probe (no endpoint)."""
    if system.kind == SystemKind.ODOO:
        return _probe_odoo(system)
    if not system.endpoint:
        return None
    return _probe_tcp(system)


def readiness() -> tuple[bool, dict[str, dict]]:
    """Run every check; ``(all_ok, {"database": …, "broker": …, "system:<code>": …})``."""
    checks: dict[str, dict] = {"database": _timed(check_database)}
    checks["broker"] = _timed(broker.check)
    systems: list[ExternalSystem] = []
    if checks["database"]["ok"]:
        try:
            systems = list(ExternalSystem.objects.filter(enabled=True).order_by("code"))
        except DatabaseError as exc:
            checks["database"] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    probes = {}
    for system in systems:
        probe = system_probe(system)
        if probe is None:
            checks[f"system:{system.code}"] = {"ok": True, "kind": system.kind, "skipped": "no endpoint to probe"}
        else:
            probes[f"system:{system.code}"] = probe
    if probes:
        with ThreadPoolExecutor(max_workers=min(8, len(probes)), thread_name_prefix="ready") as pool:
            futures = {name: pool.submit(_timed, probe) for name, probe in probes.items()}
            for name, future in futures.items():
                checks[name] = future.result()
    return all(c["ok"] for c in checks.values()), checks
