"""The wire to Odoo: one small transport per protocol, each with explicit timeouts.

Transports speak odoo-client-lib's connectors and raise raw exceptions
(``xmlrpc.client.Fault``, ``httpx`` errors, :class:`HttpStatusError`,
:class:`NotSentError`, ...); :mod:`integrations.odoo.faults` turns those into
the two error families. Nothing here retries: a resend of a write whose
response was lost would apply it twice.

Why not odoo-client-lib's connectors as they are:

- ``XmlRPCConnector.send`` builds a ``ServerProxy`` with no timeout (an
  unbounded call), and the standard library's ``Transport.request`` silently
  resends the request once when the server drops the connection
  (``RemoteDisconnected``/``ECONNRESET``): after a commit on the server that
  is a second posting. :class:`_Transport` sets a timeout on every connection
  and sends exactly once, connecting first so that a refused connection is
  known not to have been sent.
- ``odoolib.tools.json_rpc`` posts without a timeout and parses any body as
  JSON (a 502 HTML page becomes a ``JSONDecodeError``).
- ``Json2Model`` folds every HTTP status into ``ValueError`` text and uses a
  module-wide 60 s timeout. We keep its connector (URL) and connection (bearer
  headers) and send named arguments ourselves.
"""

from __future__ import annotations

import xmlrpc.client
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import odoolib
from odoolib.json2 import Json2Connection, Json2Connector, Json2SConnector
from odoolib.tools import JsonRPCException

__all__ = [
    "HttpStatusError",
    "JsonRPCException",
    "NotSentError",
    "Wire",
    "make_wire",
]


class NotSentError(Exception):
    """The connection could not be opened: the request never left this process."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class HttpStatusError(Exception):
    """An HTTP answer other than 200 from a JSON endpoint."""

    def __init__(self, status: int, body: Any, text: str, headers: dict[str, str]) -> None:
        super().__init__(f"HTTP {status}: {text[:300]}")
        self.status = status
        self.body = body  # the parsed JSON error document, or None
        self.text = text
        self.headers = headers


class Wire(Protocol):
    """What the client needs from a protocol. Every method is one remote call."""

    protocol: str

    def version(self) -> dict[str, Any]:
        """The server's version document (``server_version_info`` or ``version_info``)."""

    def login(self) -> int | None:
        """Authenticate; the user id, or ``None`` when the server says no (or not needed)."""

    def execute(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        """Call ``model.method``; ``args``/``kwargs`` as for ``execute_kw``."""


# --------------------------------------------------------------------------- XML-RPC


class _Transport(xmlrpc.client.Transport):
    """A transport with a socket timeout that connects first and sends exactly once."""

    def __init__(self, timeout: float, connect_timeout: float) -> None:
        super().__init__()
        self._timeout = timeout
        self._connect_timeout = connect_timeout

    def make_connection(self, host):  # noqa: ANN001 - stdlib signature
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn

    def request(self, host, handler, request_body, verbose=False):  # noqa: ANN001
        conn = self.make_connection(host)
        conn.timeout = self._connect_timeout
        try:
            conn.connect()
        except OSError as exc:
            self.close()
            raise NotSentError(exc) from exc
        conn.sock.settimeout(self._timeout)
        conn.timeout = self._timeout
        # One attempt only: the stdlib retries on RemoteDisconnected, which
        # would re-apply a write whose response was dropped.
        return self.single_request(host, handler, request_body, verbose)


class _SafeTransport(_Transport, xmlrpc.client.SafeTransport):
    """HTTPS variant of :class:`_Transport`."""

    def __init__(self, timeout: float, connect_timeout: float) -> None:
        xmlrpc.client.SafeTransport.__init__(self)
        self._timeout = timeout
        self._connect_timeout = connect_timeout


class _XmlRPCConnector(odoolib.XmlRPCConnector):
    """odoolib's connector with a fresh, time-bounded transport per call."""

    def __init__(self, hostname: str, port: int, *, secure: bool, timeout: float,
                 connect_timeout: float) -> None:
        super().__init__(hostname, port)
        if secure:
            self.url = f"https://{hostname}:{port}/xmlrpc"
        self.secure = secure
        self.timeout = timeout
        self.connect_timeout = connect_timeout

    def send(self, service_name: str, method: str, *args: Any) -> Any:
        cls = _SafeTransport if self.secure else _Transport
        proxy = xmlrpc.client.ServerProxy(
            f"{self.url}/{service_name}",
            transport=cls(self.timeout, self.connect_timeout),
        )
        return getattr(proxy, method)(*args)


class _JsonRPCConnector(odoolib.JsonRPCConnector):
    """odoolib's JSON-RPC connector, sent through a time-bounded httpx client."""

    def __init__(self, hostname: str, port: int, *, secure: bool, http: httpx.Client) -> None:
        super().__init__(hostname, port)
        if secure:
            self.url = f"https://{hostname}:{port}/jsonrpc"
        self.http = http
        self._seq = 0

    def send(self, service_name: str, method: str, *args: Any) -> Any:
        self._seq += 1
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service_name, "method": method, "args": list(args)},
            "id": self._seq,
        }
        response = _post(self.http, self.url, json=payload)
        body = response.json()
        if body.get("error"):
            raise JsonRPCException(body["error"])
        return body.get("result")


def _post(http: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """POST once; connection failures become :class:`NotSentError`, non-200 :class:`HttpStatusError`."""
    try:
        response = http.post(url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise NotSentError(exc) from exc
    if response.status_code != 200:
        raise _status_error(response)
    return response


def _status_error(response: httpx.Response) -> HttpStatusError:
    try:
        body = response.json()
    except ValueError:
        body = None
    return HttpStatusError(response.status_code, body, response.text, dict(response.headers))


class _LegacyRPCWire:
    """XML-RPC or JSON-RPC through odoolib's ``Connection`` (database/login/password)."""

    def __init__(self, protocol: str, connector: Any, db: str, login: str, password: str) -> None:
        self.protocol = protocol
        self.connection = odoolib.Connection(connector, db, login, password)

    def version(self) -> dict[str, Any]:
        return self.connection.get_service("common").version()

    def login(self) -> int | None:
        conn = self.connection
        uid = conn.get_service("common").login(conn.database, conn.login, conn.password)
        conn.user_id = uid or None
        return conn.user_id

    def execute(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        conn = self.connection
        return conn.get_service("object").execute_kw(
            conn.database, conn.user_id, conn.password, model, method, args, kwargs
        )


# --------------------------------------------------------------------------- JSON-2

# Positional parameter names of the ORM methods we call with positional
# arguments; anything else must be called with keyword arguments on JSON-2.
_MODEL_METHOD_PARAMS: dict[str, tuple[str, ...]] = {
    "create": ("vals_list",),
    "search": ("domain", "offset", "limit", "order"),
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "fields_get": ("allfields", "attributes"),
    "name_search": ("name", "domain", "operator", "limit"),
    "default_get": ("fields_list",),
}
_RECORD_METHOD_PARAMS: dict[str, tuple[str, ...]] = {
    "read": ("fields", "load"),
    "write": ("vals",),
}


def json2_body(method: str, args: list, kwargs: dict) -> dict[str, Any]:
    """Turn ``execute_kw``-style arguments into JSON-2's named arguments."""
    body = dict(kwargs)
    if method in _MODEL_METHOD_PARAMS:
        names = _MODEL_METHOD_PARAMS[method]
        rest = list(args)
    else:
        names = _RECORD_METHOD_PARAMS.get(method, ())
        rest = list(args)
        if rest:
            ids = rest.pop(0)
            body["ids"] = [ids] if isinstance(ids, int) else list(ids)
    if len(rest) > len(names):
        raise TypeError(f"{method}: pass extra arguments by keyword on JSON-2")
    body.update(zip(names, rest, strict=False))
    return body


class _Json2Wire:
    """JSON-2 (``POST /json/2/<model>/<method>``) with a bearer API key."""

    def __init__(self, protocol: str, hostname: str, port: int, db: str, api_key: str,
                 http: httpx.Client) -> None:
        self.protocol = protocol
        cls = Json2SConnector if protocol == "json2s" else Json2Connector
        self.connection = Json2Connection(cls(hostname, port), db, api_key)
        self.http = http

    @property
    def base_url(self) -> str:
        return self.connection.connector.url.removesuffix("/json/2/")

    def version(self) -> dict[str, Any]:
        try:
            response = self.http.get(f"{self.base_url}/web/version")
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSentError(exc) from exc
        if response.status_code != 200:
            raise _status_error(response)
        return response.json()

    def login(self) -> int | None:
        return None  # the bearer key authenticates every request

    def execute(self, model: str, method: str, args: list, kwargs: dict) -> Any:
        url = f"{self.connection.connector.url}{model}/{method}"
        body = json2_body(method, args, kwargs)
        response = _post(self.http, url, json=body, headers=self.connection.bearer_header)
        return response.json()


# --------------------------------------------------------------------------- factory


@dataclass(frozen=True)
class WireSettings:
    protocol: str
    hostname: str
    port: int
    db: str
    login: str
    secret: str  # password or API key
    timeout: float
    connect_timeout: float


def make_wire(s: WireSettings) -> Wire:
    """Build the transport for ``s.protocol`` (xmlrpc[s], jsonrpc[s], json2[s])."""
    secure = s.protocol.endswith("s")
    if s.protocol in ("xmlrpc", "xmlrpcs"):
        connector = _XmlRPCConnector(s.hostname, s.port, secure=secure, timeout=s.timeout,
                                     connect_timeout=s.connect_timeout)
        return _LegacyRPCWire(s.protocol, connector, s.db, s.login, s.secret)
    timeout = httpx.Timeout(s.timeout, connect=s.connect_timeout)
    # No transport retries: httpx would only retry connects, but say so explicitly.
    http = httpx.Client(timeout=timeout, transport=httpx.HTTPTransport(retries=0))
    if s.protocol in ("jsonrpc", "jsonrpcs"):
        connector = _JsonRPCConnector(s.hostname, s.port, secure=secure, http=http)
        return _LegacyRPCWire(s.protocol, connector, s.db, s.login, s.secret)
    if s.protocol in ("json2", "json2s"):
        return _Json2Wire(s.protocol, s.hostname, s.port, s.db, s.secret, http)
    raise ValueError(f"unknown Odoo protocol {s.protocol!r}")


__all__ += ["WireSettings", "json2_body"]
