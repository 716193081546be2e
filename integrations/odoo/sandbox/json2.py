"""JSON-2 (``POST /json/2/<model>/<method>``), ``/doc-bearer/<model>.json`` and ``/web/version``.

Statuses and error bodies follow ``19.0/transcript-json2.json``: 401 for a bad,
missing or non-bearer key (with ``WWW-Authenticate``), 422 for argument
mismatches and UserError/ValidationError, 404 for unknown model/method or a
missing record on write, 403 for private methods and access errors, 400 for
invalid JSON, 415 for GET or a non-JSON content type, 500 for Python errors.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from .app import Sandbox
from .errors import AccessError, OdooError, fake_traceback, python_error_message, python_error_name
from .registry import private_message
from .rpc import CallInfo

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
Response = tuple[int, dict[str, str], bytes]


def _json(status: int, payload: Any, headers: dict | None = None) -> Response:
    return status, {"Content-Type": JSON, **(headers or {})}, json.dumps(payload).encode()


def _werkzeug(status: int, name: str, message: str, headers: dict | None = None) -> Response:
    return _json(status, {"name": f"werkzeug.exceptions.{name}", "message": message,
                          "arguments": [message, status], "context": {},
                          "debug": f"Traceback (most recent call last):\n{name}: {message}\n"},
                 headers)


def _error(exc: BaseException) -> Response:
    if isinstance(exc, OdooError):
        return _json(exc.json2_status, {"name": exc.odoo_name, "message": exc.message,
                                        "arguments": [exc.message], "context": {},
                                        "debug": fake_traceback(exc)})
    message = python_error_message(exc)
    return _json(500, {"name": python_error_name(exc), "message": message, "arguments": [message],
                       "context": {}, "debug": fake_traceback(exc)})


def _html(status: int, title: str, text: str) -> Response:
    body = f"<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n<h1>{title}</h1>\n<p>{text}</p>\n"
    return status, {"Content-Type": HTML}, body.encode()


def _unsupported(route: str) -> Response:
    return _html(415, "Unsupported Media Type",
                 f"Request inferred type is compatible with [&#39;http&#39;] but &#39;{route}&#39; "
                 "is type=&#39;json2&#39;.<br><br>Please verify the Content-Type request header "
                 "and try again.")


def authenticate(app: Sandbox, headers: dict[str, str]) -> int | Response:
    """The uid of the bearer key, or the 401 response Odoo gives."""
    auth = headers.get("authorization", "")
    www = {"WWW-Authenticate": "Bearer "}
    if auth[:7].lower() == "bearer ":
        uid = app.uid_for_key(auth[7:].strip())
        if uid is None:
            return _werkzeug(401, "Unauthorized", "Invalid apikey", www)
        return uid
    if not auth and "cookie" in headers:
        return _werkzeug(401, "Unauthorized",
                         'Missing "Authorization" or Sec-headers for interactive usage.', www)
    return _werkzeug(401, "Unauthorized",
                     "User not authenticated, use an API Key with a Bearer Authorization header.", www)


def _wrong_db(app: Sandbox, headers: dict[str, str]) -> Response | None:
    db = headers.get("x-odoo-database")
    if db and db != app.db:
        return _html(404, "Not Found", "No database is selected and the requested URL was not "
                     "found in the server-wide controllers.</p>\n<p>Please verify the hostname, "
                     "<a href=/web/login>login</a> and try again.")
    return None


def handle_json2(app: Sandbox, verb: str, path: str, headers: dict[str, str], body: bytes,
                 info: CallInfo) -> Response:
    """Answer one request under ``/json/2``."""
    parts = [p for p in path[len("/json/2"):].split("/") if p]
    if verb != "POST":
        return _unsupported("/json/2")
    if not headers.get("content-type", "").lower().startswith("application/json"):
        return _unsupported("/json/2/&lt;__model__&gt;/&lt;__method__&gt;")
    if len(parts) != 2:
        return _werkzeug(404, "NotFound", "Did you mean POST /json/2/<model>/<method>?")
    wrong = _wrong_db(app, headers)
    if wrong:
        return wrong
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        return _werkzeug(400, "BadRequest", f"could not parse the body as json: {exc}")
    uid = authenticate(app, headers)
    if not isinstance(uid, int):
        return uid
    model, method = parts
    info.model, info.method = model, method
    if method.startswith("_"):
        return _error(AccessError(private_message(app.profile, model, method)))
    if model not in app.registry.models:
        return _werkzeug(404, "NotFound", f"the model '{model}' does not exist")
    entry = app.registry.lookup(model, method)
    if entry is None:
        return _werkzeug(404, "NotFound", f"The method '{model}.{method}' does not exist")
    kwargs = dict(payload) if isinstance(payload, dict) else {}
    ids = kwargs.pop("ids", None)
    context = kwargs.pop("context", None) or {}
    if entry.api_model and ids is not None:
        return _werkzeug(422, "UnprocessableEntity", f"cannot call {model}.{method} with ids")
    try:
        inspect.Signature(entry.params()).bind(**kwargs)
    except TypeError as exc:
        return _werkzeug(422, "UnprocessableEntity", str(exc))
    args = [] if entry.api_model else [ids or []]
    try:
        result, env = app.execute(uid, model, method, args, {**kwargs, "context": context})
    except Exception as exc:  # Odoo turns every failure into a JSON error body
        return _error(exc)
    info.created, info.posted = env.created, env.posted
    if method == "create" and isinstance(result, int):
        result = [result]
    return _json(200, result)


def doc_bearer(app: Sandbox, model: str, headers: dict[str, str]) -> Response:
    """The ``/doc-bearer/<model>.json`` document odoolib's JSON-2 transport introspects."""
    uid = authenticate(app, headers)
    if not isinstance(uid, int):
        return uid
    if (app.store.get("res.users", uid) or {}).get("sandbox_role") != "admin":
        return _html(403, "Forbidden", "This page is only accessible to Technical Documentation users.")
    if model not in app.registry.models:
        return _html(404, "Not Found", "The requested URL was not found on the server.")
    mdef = app.registry.models[model]
    fields = {name: {**spec, "name": name, "store": True, "searchable": True, "sortable": True,
                     "groupable": True, "exportable": True, "manual": False, "module": None}
              for name, spec in mdef.fields.items()}
    methods = {}
    names = set(app.registry.methods.get("*", {})) | set(app.registry.methods.get(model, {}))
    for name in sorted(names):
        entry = app.registry.lookup(model, name)
        params = {}
        for p in entry.params():
            params[p.name] = {} if p.default is inspect.Parameter.empty else {"default": p.default}
        sig = "(" + ", ".join(p.name if p.default is inspect.Parameter.empty
                               or p.kind == p.VAR_KEYWORD else f"{p.name}={p.default!r}"
                               for p in entry.params()) + ")"
        doc = {"signature": sig, "parameters": params, "doc": None,
               "model": model if model in app.registry.methods and name in app.registry.methods[model]
               else "core", "module": "sandbox"}
        if entry.api_model:
            doc["api"] = ["model"]
        methods[name] = doc
    return _json(200, {"model": model, "name": mdef.description, "doc": None, "fields": fields,
                       "methods": methods})


def web_version(app: Sandbox) -> Response:
    info = app.version()
    return _json(200, {"version_info": info["server_version_info"], "version": info["server_version"]})
