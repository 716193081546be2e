"""XML-RPC (``/xmlrpc/2/<service>`` and legacy ``/xmlrpc/<service>``) and JSON-RPC (``/jsonrpc``).

Services: ``common`` (version, login, authenticate), ``object`` (execute_kw,
execute) and ``db`` (list, server_version). Faults follow Odoo: numeric codes on
``/xmlrpc/2``, string codes on the legacy path, and a method returning None is
committed first and then answered with the marshalling Fault.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import xmlrpc.client
from typing import Any

from .app import Sandbox
from .errors import (
    NONE_MESSAGE,
    NONE_TRACEBACK,
    AccessDenied,
    OdooError,
    fake_traceback,
    python_error_message,
    python_error_name,
)

_logger = logging.getLogger("odoo.sandbox.rpc")
DEPRECATION = ("The /xmlrpc, /xmlrpc/2 and /jsonrpc endpoints are deprecated in Odoo 19 and "
               "scheduled for removal in Odoo 20. Please report the problem to the client making "
               "the request.")


class CallInfo:
    """What the server layer needs to know about a call after it ran."""

    def __init__(self) -> None:
        self.model = ""
        self.method = ""
        self.created = 0
        self.posted = 0


def _plain(value: Any) -> Any:
    """xmlrpc.client types -> the JSON-able values Odoo's ORM receives."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def dispatch(app: Sandbox, service: str, method: str, params: list, info: CallInfo) -> Any:
    """Run one service call; returns the result or raises the Odoo / Python error."""
    if service == "common":
        if method == "version":
            return app.version()
        if method in ("login", "authenticate"):
            db, login, password = params[0], params[1], params[2]
            return app.authenticate(db, login, password)
        if method == "about":
            return "See http://openerp.com"
    elif service == "object" and method in ("execute_kw", "execute"):
        db, uid, password, model, name = params[:5]
        if method == "execute_kw":
            args = params[5] if len(params) > 5 else []
            kwargs = params[6] if len(params) > 6 else {}
        else:
            args, kwargs = list(params[5:]), {}
        info.model, info.method = model, name
        uid = app.check_uid(db, uid, password)
        result, env = app.execute(uid, model, name, list(args or []), dict(kwargs or {}))
        info.created, info.posted = env.created, env.posted
        return result
    elif service == "db":
        if method == "list":
            return [app.db]
        if method == "server_version":
            return app.version()["server_version"]
        if method == "db_exist":
            return params[0] == app.db
    raise NameError(f"Method not available {method}")


def _fault(exc: BaseException, legacy: bool) -> xmlrpc.client.Fault:
    if isinstance(exc, OdooError):
        if legacy:
            if isinstance(exc, AccessDenied):
                return xmlrpc.client.Fault("AccessDenied", exc.message)
            return xmlrpc.client.Fault(f"warning -- {exc.legacy_label}\n\n{exc.message}", "")
        return xmlrpc.client.Fault(exc.xmlrpc_code, exc.message)
    if legacy:
        return xmlrpc.client.Fault(python_error_message(exc), fake_traceback(exc))
    return xmlrpc.client.Fault(1, fake_traceback(exc))


def handle_xmlrpc(app: Sandbox, service: str, body: bytes, legacy: bool, info: CallInfo) -> bytes:
    """Answer one XML-RPC request body with an XML-RPC response body (result or Fault)."""
    if app.profile == "19":
        _logger.warning(DEPRECATION)
    try:
        params, method = xmlrpc.client.loads(body, use_builtin_types=True)
    except Exception as exc:  # malformed XML: Odoo answers a generic Fault too
        return xmlrpc.client.dumps(_fault(exc, legacy), methodresponse=True).encode()
    try:
        result = dispatch(app, service, method or "", _plain(list(params)), info)
    except Exception as exc:  # every failure becomes a Fault, as in Odoo's RPC controller
        return xmlrpc.client.dumps(_fault(exc, legacy), methodresponse=True,
                                   allow_none=True).encode()
    if result is None:
        fault = (xmlrpc.client.Fault(NONE_MESSAGE, NONE_TRACEBACK) if legacy
                 else xmlrpc.client.Fault(1, NONE_TRACEBACK))
        return xmlrpc.client.dumps(fault, methodresponse=True).encode()
    try:
        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False).encode()
    except (TypeError, OverflowError) as exc:  # unmarshallable result: Odoo answers a Fault
        return xmlrpc.client.dumps(_fault(exc, legacy), methodresponse=True).encode()


def error_data(exc: BaseException) -> dict:
    """Odoo's ``{name, message, arguments, context, debug}`` for an exception."""
    if isinstance(exc, OdooError):
        name, message = exc.odoo_name, exc.message
    else:
        name, message = python_error_name(exc), python_error_message(exc)
    return {"name": name, "message": message, "arguments": [message], "context": {},
            "debug": fake_traceback(exc)}


def handle_jsonrpc(app: Sandbox, body: bytes, info: CallInfo) -> bytes:
    """Answer one JSON-RPC 2.0 request (``{"method": "call", "params": {service, method, args}}``)."""
    if app.profile == "19":
        _logger.warning(DEPRECATION)
    req_id = None
    try:
        payload = json.loads(body or b"{}")
        req_id = payload.get("id")
        params = payload.get("params") or {}
        result = dispatch(app, params.get("service", ""), params.get("method", ""),
                          list(params.get("args") or []), info)
        answer = {"jsonrpc": "2.0", "id": req_id, "result": result}
    except Exception as exc:  # every failure becomes a JSON-RPC error object
        answer = {"jsonrpc": "2.0", "id": req_id,
                  "error": {"code": 200, "message": "Odoo Server Error", "data": error_data(exc)}}
    return json.dumps(answer).encode()
