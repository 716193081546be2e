"""Build the connector's client from an ``ExternalSystem``, and configure that system from
the environment.

    client = odoo_client(system)            # logs and metrics on every call
    system = odoo_system_from_env(actor)    # ODOO_URL, ODOO_DB, ODOO_LOGIN, ...

Nothing here calls Odoo: a client connects lazily on its first call.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

from django.db import transaction

from controlplane.connections.models import ExternalSystem, SystemKind
from controlplane.core.actors import Actor, acting
from controlplane.core.correlation import get_correlation_id
from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.odoo.metrics import observe_call
from integrations.odoo.client import PROTOCOLS, CallRecord, OdooClient, OdooConfig

logger = logging.getLogger("controlplane.odoo.calls")

DEFAULT_SYSTEM_CODE = "odoo"


def odoo_config(system: ExternalSystem) -> OdooConfig:
    """The connector configuration of ``system`` (credentials decrypted here, never logged).

    Raises ``ValidationFailed`` when the system is not an Odoo system or lacks what the
    connector needs (endpoint, database, a password or API key).
    """
    problems = []
    if system.kind != SystemKind.ODOO:
        problems.append(FieldProblem("kind", "invalid", f"{system.code} is a {system.kind} system, not Odoo."))
    if not system.endpoint:
        problems.append(FieldProblem("endpoint", "required", "An Odoo URL is required."))
    protocol = system.protocol or "xmlrpc"
    if protocol not in PROTOCOLS:
        problems.append(FieldProblem("protocol", "invalid", f"Use one of {', '.join(PROTOCOLS)}."))
    creds = system.credential_values()
    if not (creds.get("password") or creds.get("api_key")):
        problems.append(FieldProblem("credentials", "required", "A password or an API key is required."))
    if protocol.startswith(("xmlrpc", "jsonrpc")) and not creds.get("login"):
        problems.append(FieldProblem("credentials", "required", "A login is required for this protocol."))
    if problems:
        raise ValidationFailed(f"Odoo system {system.code} is not configured.", problems)
    return OdooConfig(
        url=system.endpoint, db=system.database, login=creds.get("login", ""),
        password=creds.get("password", ""), api_key=creds.get("api_key", ""), protocol=protocol,
        timeout=float(system.timeout_seconds or 30),
    )


def call_recorder(system_code: str) -> Callable[[CallRecord], None]:
    """An ``on_call`` hook: one structured log line and one histogram observation per call."""

    def record(call: CallRecord) -> None:
        cid = call.correlation_id or get_correlation_id()
        observe_call(system=system_code, model=call.model, method=call.method,
                     outcome=call.outcome, seconds=call.duration_s)
        level = logging.DEBUG if call.outcome in ("ok", "none_result") else logging.WARNING
        logger.log(level, "odoo call", extra={
            "correlation_id": cid, "odoo_system": system_code, "odoo_model": call.model,
            "odoo_method": call.method, "odoo_outcome": call.outcome, "odoo_protocol": call.protocol,
            "duration_ms": round(call.duration_s * 1000, 1), "error_code": call.error_code,
        })

    return record


def odoo_client(system: ExternalSystem, *, on_call: Callable[[CallRecord], None] | None = None) -> OdooClient:
    """A connector client for ``system`` that logs and measures every call (plus ``on_call``)."""
    recorder = call_recorder(system.code)
    if on_call is None:
        hook = recorder
    else:
        def hook(call: CallRecord) -> None:
            recorder(call)
            on_call(call)
    return OdooClient(odoo_config(system), on_call=hook)


ENV_KEYS = ("ODOO_URL", "ODOO_DB", "ODOO_LOGIN", "ODOO_PASSWORD", "ODOO_API_KEY", "ODOO_PROTOCOL")


def odoo_system_from_env(actor: Actor, *, environ: Mapping[str, str] | None = None,
                         code: str = DEFAULT_SYSTEM_CODE) -> ExternalSystem | None:
    """Create or update the ``odoo`` system from ``ODOO_*`` variables; None when ``ODOO_URL`` is unset.

    Only variables that are set change the system; credentials are merged (setting
    ``ODOO_API_KEY`` alone keeps the login). Saving only when something changed keeps the
    history free of no-op rows.
    """
    env = os.environ if environ is None else environ
    url = env.get("ODOO_URL", "").strip()
    if not url:
        return None
    protocol = env.get("ODOO_PROTOCOL", "").strip()
    if protocol and protocol not in PROTOCOLS:
        raise ValidationFailed("ODOO_PROTOCOL is invalid.",
                               [FieldProblem("ODOO_PROTOCOL", "invalid", f"Use one of {', '.join(PROTOCOLS)}.")])
    with transaction.atomic(), acting(actor, actor.reason or "Odoo configured from the environment"):
        system = ExternalSystem.objects.select_for_update().filter(code=code).first()
        created = system is None
        if created:
            system = ExternalSystem(code=code, name="Odoo", kind=SystemKind.ODOO, protocol="xmlrpc")
        changed = created
        for attr, value in (("endpoint", url), ("database", env.get("ODOO_DB", "").strip()),
                            ("protocol", protocol)):
            if value and getattr(system, attr) != value:
                setattr(system, attr, value)
                changed = True
        creds = system.credential_values()
        new_creds = dict(creds)
        for key, var in (("login", "ODOO_LOGIN"), ("password", "ODOO_PASSWORD"), ("api_key", "ODOO_API_KEY")):
            if env.get(var):
                new_creds[key] = env[var]
        if new_creds != creds:
            system.set_credentials(new_creds)
            changed = True
        if changed:
            system.full_clean()
            system.save()
    return system
