"""The Odoo client: one ``call`` for every remote method, with timeouts and error translation.

    client = OdooClient(OdooConfig(url="http://odoo:8069", db="prod", login="bot",
                                   password="<api key>", protocol="xmlrpc"))
    client.search_read("res.company", [], ["name"])

Promises:

- every remote call carries an explicit timeout (``OdooConfig.timeout``);
- every failure leaves as ``RetryableError``, ``UnknownOutcomeError`` or
  ``PermanentError`` (see :mod:`integrations.odoo.faults`); the XML-RPC
  "cannot marshal None" fault returns ``None`` (the work is committed);
- nothing is retried here: retry policy belongs to the caller, and a silent
  resend of a write would apply it twice;
- each call is reported to ``on_call`` as a :class:`CallRecord` (model,
  method, duration, outcome, correlation id) for metrics and logs.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from integrations.errors import IntegrationError, PermanentError, UnknownOutcomeError
from integrations.odoo import faults
from integrations.odoo.versions import OdooVersion
from integrations.odoo.wire import Wire, WireSettings, make_wire

logger = logging.getLogger(__name__)

PROTOCOLS = ("xmlrpc", "xmlrpcs", "jsonrpc", "jsonrpcs", "json2", "json2s")

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "odoo_correlation_id", default=""
)


@contextlib.contextmanager
def use_correlation_id(value: str) -> Iterator[None]:
    """Tag every Odoo call made inside the block (and its ``CallRecord``) with ``value``."""
    token = correlation_id.set(value)
    try:
        yield
    finally:
        correlation_id.reset(token)


@dataclass(frozen=True)
class OdooConfig:
    """How to reach one Odoo database. ``password`` may be an API key (XML-RPC/JSON-RPC);
    JSON-2 needs ``api_key`` (``password`` is used when ``api_key`` is empty)."""

    url: str
    db: str
    login: str = ""
    password: str = ""
    api_key: str = ""
    protocol: str = "xmlrpc"
    timeout: float = 30.0
    connect_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {self.protocol!r}")
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("timeouts must be positive")

    def wire_settings(self) -> WireSettings:
        parts = urlsplit(self.url if "//" in self.url else f"//{self.url}")
        secure = self.protocol.endswith("s")
        port = parts.port or (443 if secure else 8069)
        if self.protocol.startswith("json2"):
            secret = self.api_key or self.password
        else:
            secret = self.password or self.api_key
        return WireSettings(
            protocol=self.protocol, hostname=parts.hostname or "localhost", port=port,
            db=self.db, login=self.login, secret=secret,
            timeout=self.timeout, connect_timeout=self.connect_timeout,
        )


@dataclass(frozen=True)
class CallRecord:
    """One remote call, as reported to ``on_call``.

    ``outcome`` is ``ok``, ``none_result`` (the None-marshal fault),
    ``retryable``, ``unknown`` or ``permanent``.
    """

    model: str
    method: str
    protocol: str
    duration_s: float
    outcome: str
    error_code: str = ""
    correlation_id: str = ""


class OdooClient:
    """A connection to one Odoo database over one protocol.

    Safe to share between threads once constructed (each XML-RPC call opens its
    own connection; the httpx client used by JSON protocols is thread-safe).
    """

    def __init__(
        self,
        config: OdooConfig,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        wire: Wire | None = None,
    ) -> None:
        self.config = config
        self.on_call = on_call
        self.wire = wire or make_wire(config.wire_settings())
        self._uid: int | None = None
        self._version: OdooVersion | None = None

    # ------------------------------------------------------------------ session

    @property
    def protocol(self) -> str:
        return self.wire.protocol

    def version(self) -> OdooVersion:
        """The server version (``/xmlrpc/2/common version`` or ``/web/version``), cached."""
        if self._version is None:
            raw = self._invoke("common", "version", self.wire.version)
            self._version = OdooVersion.from_payload(raw)
        return self._version

    def authenticate(self) -> int | None:
        """Log in when the protocol needs it; raises ``PermanentError`` on refusal."""
        if self._uid is None and not self.protocol.startswith("json2"):
            uid = self._invoke("common", "login", self.wire.login)
            if not uid:
                raise PermanentError("Odoo refused the login or password", code="AccessDenied")
            self._uid = uid
        return self._uid

    # ------------------------------------------------------------------ calls

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``model.method(*args, **kwargs)`` remotely and return its result.

        Record methods take the ids as first positional argument. On JSON-2,
        arguments other than those of the common ORM methods must be passed
        by keyword. Raises ``RetryableError``/``UnknownOutcomeError``/
        ``PermanentError``; returns ``None`` for methods that return nothing.
        """
        self.authenticate()
        return self._invoke(model, method, lambda: self.wire.execute(model, method, list(args), kwargs))

    def _invoke(self, model: str, method: str, fn: Callable[[], Any]) -> Any:
        started = time.monotonic()
        outcome, code = "ok", ""
        try:
            return fn()
        except faults.WIRE_EXCEPTIONS as exc:
            if faults.is_none_result_fault(exc):
                outcome = "none_result"
                return None
            error = faults.translate(exc, method=method)
            outcome, code = _outcome_of(error), error.code
            raise error from exc
        finally:
            self._record(model, method, time.monotonic() - started, outcome, code)

    def _record(self, model: str, method: str, duration: float, outcome: str, code: str) -> None:
        record = CallRecord(model, method, self.protocol, duration, outcome, code, correlation_id.get())
        log = logger.debug if outcome in ("ok", "none_result") else logger.info
        log("odoo call %s.%s %s %.3fs", model, method, outcome, duration,
            extra={"correlation_id": record.correlation_id, "odoo_model": model,
                   "odoo_method": method, "odoo_outcome": outcome, "duration_s": duration})
        if self.on_call is not None:
            try:
                self.on_call(record)
            except Exception:  # a metrics hook must never fail a posting
                logger.exception("on_call hook failed for %s.%s", model, method)

    # ------------------------------------------------------------------ helpers

    def search(self, model: str, domain: Sequence, *, limit: int | None = None,
               order: str | None = None, context: dict | None = None) -> list[int]:
        """Ids matching ``domain``."""
        return self.call(model, "search", list(domain), **_opts(limit=limit, order=order, context=context))

    def search_read(self, model: str, domain: Sequence, fields: Sequence[str], *,
                    offset: int = 0, limit: int | None = None, order: str | None = None,
                    context: dict | None = None) -> list[dict[str, Any]]:
        """Records matching ``domain`` with ``fields`` (plus ``id``)."""
        opts = _opts(offset=offset or None, limit=limit, order=order, context=context)
        return self.call(model, "search_read", list(domain), fields=list(fields), **opts) or []

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str], *,
             context: dict | None = None) -> list[dict[str, Any]]:
        """Records ``ids`` (those that exist; order not guaranteed)."""
        if not ids:
            return []
        return self.call(model, "read", list(ids), fields=list(fields), **_opts(context=context)) or []

    def search_count(self, model: str, domain: Sequence) -> int:
        return int(self.call(model, "search_count", list(domain)))

    def create(self, model: str, vals_list: Sequence[dict[str, Any]], *,
               context: dict | None = None) -> list[int]:
        """Create all records in one call; their ids in the same order."""
        if not vals_list:
            return []
        result = self.call(model, "create", [dict(v) for v in vals_list], **_opts(context=context))
        ids = [result] if isinstance(result, int) else list(result or [])
        if len(ids) != len(vals_list):
            raise PermanentError(f"{model}.create returned {len(ids)} ids for {len(vals_list)} records",
                                 code="bad_response")
        return ids

    def write(self, model: str, ids: Sequence[int], vals: dict[str, Any], *,
              context: dict | None = None) -> bool:
        return bool(self.call(model, "write", list(ids), vals, **_opts(context=context)))

    def unlink(self, model: str, ids: Sequence[int]) -> bool:
        return bool(self.call(model, "unlink", list(ids)))


def _opts(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _outcome_of(error: IntegrationError) -> str:
    if isinstance(error, UnknownOutcomeError):
        return "unknown"
    return "retryable" if error.retryable else "permanent"
