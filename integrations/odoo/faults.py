"""Translate whatever the wire raised into the two error families.

Rules (see ``integrations.errors``):

- connection refused / connect timeout (nothing sent) -> ``RetryableError``
- read timeout, dropped connection, garbled answer after sending -> ``UnknownOutcomeError``
  (``RetryableError`` for read-only methods, where outcome does not matter)
- HTTP 429 / 503 -> ``RetryableError`` (``Retry-After`` honoured);
  502 / 504 and an HTTP 500 that is not an Odoo error document -> unknown outcome
- PostgreSQL serialization conflicts, deadlocks, lock timeouts -> ``RetryableError``
  (the transaction was rolled back)
- any other Odoo fault, 4xx, access and validation errors -> ``PermanentError``
  carrying Odoo's own message
- the fault "cannot marshal None unless allow_none is enabled" is **not** an
  error: the method ran and committed, only its ``None`` result could not be
  encoded. :func:`is_none_result_fault` lets the client return ``None``.
"""

from __future__ import annotations

import http.client
import xml.parsers.expat
import xmlrpc.client
from typing import Any

import httpx
from odoolib.tools import AuthenticationError

from integrations.errors import (
    IntegrationError,
    PermanentError,
    RetryableError,
    UnknownOutcomeError,
)
from integrations.odoo.wire import HttpStatusError, JsonRPCException, NotSentError

NONE_MARSHAL = "cannot marshal None unless allow_none is enabled"
_TRANSIENT_DB_MARKERS = (
    "could not serialize access",
    "serializationfailure",
    "deadlock detected",
    "could not obtain lock",
    "lock not available",
)
_NUMERIC_FAULTS = {1: "ServerError", 2: "UserError", 3: "AccessDenied", 4: "AccessError"}
RETRYABLE_STATUS = frozenset({429, 503})
UNKNOWN_STATUS = frozenset({502, 504})

# Methods that change nothing: an unknown outcome is simply retryable.
SAFE_METHODS = frozenset({
    "search", "search_read", "read", "search_count", "fields_get", "name_search",
    "default_get", "version", "login", "authenticate", "context_get",
})


def is_none_result_fault(exc: BaseException) -> bool:
    """True when ``exc`` is XML-RPC's "cannot marshal None" fault: the call succeeded."""
    if not isinstance(exc, xmlrpc.client.Fault):
        return False
    return NONE_MARSHAL in f"{exc.faultCode}\n{exc.faultString}"


def translate(exc: BaseException, *, method: str = "") -> IntegrationError:
    """Map a raw wire exception to ``RetryableError`` / ``UnknownOutcomeError`` / ``PermanentError``.

    ``method`` is the Odoo method called; read-only methods never yield an
    unknown outcome. Exceptions that are not wire failures (programming
    errors) are not accepted: the caller must let them propagate.
    """
    safe = method in SAFE_METHODS
    if isinstance(exc, IntegrationError):
        return exc
    if isinstance(exc, xmlrpc.client.Fault):
        kind, message, details = parse_fault(exc.faultCode, exc.faultString)
        return _from_odoo_error(kind, message, details)
    if isinstance(exc, JsonRPCException):
        return _from_error_document(_jsonrpc_document(exc.error))
    if isinstance(exc, HttpStatusError):
        return _from_status(exc, safe=safe)
    if isinstance(exc, xmlrpc.client.ProtocolError):
        return _from_http_status(exc.errcode, exc.errmsg, dict(exc.headers or {}), safe=safe)
    if isinstance(exc, AuthenticationError):
        return PermanentError(str(exc) or "Authentication failed", code="AccessDenied")
    if isinstance(exc, NotSentError):
        return RetryableError(f"cannot connect to Odoo: {exc}", code="connect")
    return _from_transport(exc, safe=safe)


def parse_fault(code: Any, text: str) -> tuple[str, str, str]:
    """Split an XML-RPC fault into (kind, Odoo message, details).

    ``/xmlrpc/2`` carries numeric codes (1 server error with a traceback, 2
    UserError/ValidationError/MissingError, 3 AccessDenied, 4 AccessError);
    the legacy ``/xmlrpc`` endpoint odoolib uses carries the kind in a string
    code, ``'warning -- UserError\\n\\n<message>'``, or the exception message
    itself with the traceback in ``faultString``.
    """
    text = text or ""
    if isinstance(code, int) or (isinstance(code, str) and code.strip().isdigit()):
        number = int(code)
        kind = _NUMERIC_FAULTS.get(number, f"fault_{number}")
        if number == 1:
            return kind, _last_line(text) or "Odoo server error", _tail(text)
        return kind, text.strip() or kind, ""
    code = str(code)
    if code.startswith("warning -- "):
        head, _, message = code[len("warning -- "):].partition("\n\n")
        return head.strip() or "UserError", (message or text).strip(), ""
    if code.strip() in ("AccessDenied", "Access Denied"):
        return "AccessDenied", text.strip() or "Access Denied", ""
    return "ServerError", code.strip() or _last_line(text), _tail(text)


def _from_odoo_error(kind: str, message: str, details: str) -> IntegrationError:
    haystack = f"{kind}\n{message}\n{details}".lower()
    if any(marker in haystack for marker in _TRANSIENT_DB_MARKERS):
        return RetryableError(message, code="serialization", details=details)
    return PermanentError(message, code=kind, details=details)


def _jsonrpc_document(error: Any) -> dict[str, Any]:
    """Odoo's JSON-RPC error ``{code, message, data: {name, message, debug}}`` as a JSON-2 document."""
    if not isinstance(error, dict):
        return {"name": "ServerError", "message": str(error)}
    data = error.get("data") or {}
    return {
        "name": data.get("name") or error.get("message") or "ServerError",
        "message": data.get("message") or error.get("message") or "",
        "debug": data.get("debug", ""),
    }


def _from_error_document(doc: dict[str, Any]) -> IntegrationError:
    name = str(doc.get("name") or "ServerError")
    kind = name.rsplit(".", 1)[-1]
    return _from_odoo_error(kind, str(doc.get("message") or kind), _tail(str(doc.get("debug") or "")))


def _from_status(exc: HttpStatusError, *, safe: bool) -> IntegrationError:
    if exc.status == 500 and isinstance(exc.body, dict) and "name" in exc.body:
        # JSON-2 reports server-side exceptions as 500 with an error document:
        # the transaction was rolled back, so this is a plain Odoo failure.
        return _from_error_document(exc.body)
    if exc.status not in RETRYABLE_STATUS | UNKNOWN_STATUS | {500} and isinstance(exc.body, dict):
        error = _from_error_document(exc.body)
        if exc.status == 401:
            error.code = "AccessDenied"
        error.code = error.code or f"http_{exc.status}"
        return error
    return _from_http_status(exc.status, exc.text[:300], exc.headers, safe=safe)


def _from_http_status(status: int, text: str, headers: dict[str, str], *, safe: bool) -> IntegrationError:
    code = f"http_{status}"
    if status in RETRYABLE_STATUS:
        return RetryableError(f"Odoo answered HTTP {status}", code=code, details=text,
                              retry_after=_retry_after(headers))
    if status in UNKNOWN_STATUS or status >= 500:
        cls = RetryableError if safe else UnknownOutcomeError
        return cls(f"Odoo answered HTTP {status}", code=code, details=text,
                   retry_after=_retry_after(headers))
    if status == 401:
        code = "AccessDenied"
    return PermanentError(f"Odoo answered HTTP {status}: {text}".strip(), code=code)


def _from_transport(exc: BaseException, *, safe: bool) -> IntegrationError:
    """Socket, HTTP and parse failures after the request was (possibly) sent."""
    cls = RetryableError if safe else UnknownOutcomeError
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return cls(f"Odoo call timed out: {exc}", code="timeout")
    if isinstance(exc, (ConnectionError, http.client.HTTPException, httpx.TransportError, OSError)):
        return cls(f"connection to Odoo failed: {type(exc).__name__}: {exc}", code="connection")
    if isinstance(exc, (xml.parsers.expat.ExpatError, ValueError)):
        # ValueError covers a truncated JSON body; both mean a garbled answer.
        return cls(f"unreadable answer from Odoo: {type(exc).__name__}: {exc}", code="bad_response")
    raise TypeError(f"not a wire failure: {type(exc).__name__}") from exc


WIRE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    xmlrpc.client.Error,  # Fault, ProtocolError, ResponseError
    JsonRPCException,
    HttpStatusError,
    NotSentError,
    AuthenticationError,
    OSError,  # socket errors, timeouts, connection resets
    http.client.HTTPException,
    httpx.HTTPError,
    xml.parsers.expat.ExpatError,
    ValueError,  # JSONDecodeError on a truncated body
)


def _retry_after(headers: dict[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _tail(text: str, limit: int = 2000) -> str:
    return text[-limit:] if text else ""
