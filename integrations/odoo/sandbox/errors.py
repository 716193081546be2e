"""Odoo's exception family, and how each protocol renders it.

The sandbox raises these from model code; the transports (XML-RPC, JSON-RPC,
JSON-2) translate them into what a real Odoo answers for the same failure:

- ``/xmlrpc/2/*``: numeric fault codes (1 generic, 2 UserError and friends,
  3 AccessDenied, 4 AccessError) with the bare message, or a traceback for
  plain Python errors.
- legacy ``/xmlrpc/*``: string fault codes such as
  ``'warning -- UserError\\n\\n<text>'`` with an empty faultString.
- JSON-2: ``{name, message, arguments, context, debug}`` with an HTTP status.
"""

from __future__ import annotations


class OdooError(Exception):
    """Base of the Odoo exceptions. ``message`` is what the client sees."""

    odoo_name = "odoo.exceptions.UserError"
    xmlrpc_code = 2
    legacy_label = "UserError"
    json2_status = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UserError(OdooError):
    """A business rule refused the call (fault 2, legacy 'warning -- UserError')."""


class ValidationError(UserError):
    """A constraint failed; rendered like UserError except for its JSON-2 name."""

    odoo_name = "odoo.exceptions.ValidationError"


class MissingError(UserError):
    """A record id does not exist (JSON-2 answers 404)."""

    odoo_name = "odoo.exceptions.MissingError"
    legacy_label = "MissingError"
    json2_status = 404


class AccessError(OdooError):
    """Access rights or record rules refused the call (fault 4)."""

    odoo_name = "odoo.exceptions.AccessError"
    xmlrpc_code = 4
    legacy_label = "AccessError"
    json2_status = 403


class AccessDenied(OdooError):
    """Wrong credentials on an authenticated call (fault 3, legacy 'AccessDenied')."""

    odoo_name = "odoo.exceptions.AccessDenied"
    xmlrpc_code = 3
    legacy_label = "AccessDenied"
    json2_status = 401

    def __init__(self, message: str = "Access Denied"):
        super().__init__(message)


class HttpError(Exception):
    """A werkzeug-level error of the JSON-2 route (NotFound, UnprocessableEntity...).

    Over XML-RPC these never happen: the same condition is a Python error there.
    """

    def __init__(self, status: int, name: str, message: str):
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def missing(model: str, ids, uid: int) -> MissingError:
    """The MissingError text Odoo gives for ids that are gone."""
    ids_repr = ", ".join(str(i) for i in ids)
    return MissingError(
        f"Record does not exist or has been deleted.\n(Record: {model}({ids_repr},), User: {uid})"
    )


def fake_traceback(exc: BaseException, where: str = "odoo/service/model.py") -> str:
    """A short traceback in Odoo's shape, ending with ``ExcType: message``.

    Clients only parse the last line; the frames say where a real server failed.
    """
    name = type(exc).__name__
    text = exc.message if isinstance(exc, OdooError) else str(exc)
    if isinstance(exc, KeyError):
        text = repr(exc.args[0]) if exc.args else ""
    return (
        "Traceback (most recent call last):\n"
        '  File "<sandbox>/src/addons/rpc/controllers/xmlrpc.py", line 162, in xmlrpc_2\n'
        "    response = self._xmlrpc(service)\n"
        f'  File "<sandbox>/src/{where}", line 1, in call_kw\n'
        f"{name}: {text}\n"
    )


def python_error_name(exc: BaseException) -> str:
    """``builtins.TypeError`` style name used in JSON-2 / JSON-RPC error bodies."""
    cls = type(exc)
    module = cls.__module__ if cls.__module__ != "builtins" else "builtins"
    return f"{module}.{cls.__name__}"


def python_error_message(exc: BaseException) -> str:
    """The message Odoo shows for a Python error (KeyError shows the repr of its key)."""
    if isinstance(exc, KeyError) and exc.args:
        return repr(exc.args[0])
    return str(exc)


class NoneResult(Exception):
    """Marks that a method returned None: over XML-RPC that cannot be marshalled.

    The transport commits first, then renders this as Odoo does
    ('cannot marshal None unless allow_none is enabled').
    """


NONE_MESSAGE = "cannot marshal None unless allow_none is enabled"
NONE_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "<sandbox>/src/addons/rpc/controllers/xmlrpc.py", line 135, in _xmlrpc\n'
    "    return dumps((result,))\n"
    '  File "<python>/lib/python3.11/xmlrpc/client.py", line 540, in dump_nil\n'
    '    raise TypeError("cannot marshal None unless allow_none is enabled")\n'
    "TypeError: cannot marshal None unless allow_none is enabled\n"
)
