"""The HTTP server: routing, worker slots, the latency model and fault injection.

Routes: ``/xmlrpc/2/<service>``, ``/xmlrpc/<service>``, ``/jsonrpc``, ``/json/2/...``
and ``/doc-bearer/<model>.json`` (19 profile only), ``/web/version``,
``/json/version``; control: ``GET /sandbox/stats``, ``GET|POST /sandbox/control``,
``POST /sandbox/reset``, ``GET /sandbox/health``.

At most ``workers`` RPC calls run at once (a semaphore, like Odoo workers); with
``latency='realistic'`` each call holds its slot until the fitted service time
has elapsed, so parallel clients cannot beat a real 2-worker server.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import json2, rpc
from .app import Sandbox
from .faults import LATENCY_MODELS, Faults, FaultState

_logger = logging.getLogger("odoo.sandbox.server")


class SandboxServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one ``Sandbox`` and one ``FaultState``."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Sandbox, state: FaultState,
                 latency: str = "none", workers: int = 2, initial: Faults | None = None):
        super().__init__(address, Handler)
        self.app = app
        self.state = state
        self.latency = latency
        self.workers = threading.BoundedSemaphore(max(1, workers))
        self.initial = initial or Faults()

    def service_time(self, created: int, posted: int) -> float:
        """Seconds a real server would take for a call (0 without realistic latency)."""
        if self.latency != "realistic":
            return 0.0
        m = LATENCY_MODELS[self.app.profile]
        return (m["base_ms"] + m["per_record_ms"] * created + m["per_post_ms"] * posted) / 1000.0


def _peek(kind: str, service: str, path: str, body: bytes) -> str:
    """``model.method`` (or ``service.method``) of a request, for fault filters."""
    try:
        if kind == "json2":
            return ".".join(p for p in path[len("/json/2/"):].split("/") if p)
        if kind == "jsonrpc":
            params = json.loads(body or b"{}").get("params") or {}
            service, method, args = params.get("service"), params.get("method"), params.get("args") or []
        else:
            args, method = xmlrpc.client.loads(body)
        if service == "object" and len(args) >= 5:
            return f"{args[3]}.{args[4]}"
        return f"{service}.{method}"
    except (ValueError, TypeError, AttributeError, xmlrpc.client.ResponseError):
        # unparsable bodies are not filtered out: the call itself will fail properly
        return kind


class Handler(BaseHTTPRequestHandler):
    """One HTTP connection (keep-alive)."""

    protocol_version = "HTTP/1.1"
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        _logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # one write for head and body: avoids the Nagle / delayed-ACK stall on keep-alive
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, {"Content-Type": "application/json; charset=utf-8"},
                   json.dumps(payload).encode())

    def _reset_connection(self) -> None:
        """Close the socket with an RST and no answer (the client sees a reset)."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass  # the peer may already be gone: nothing left to reset

    def _route(self, verb: str) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        app = self.server.app
        if path.startswith("/sandbox/"):
            return self._control(verb, path, body)
        if path in ("/web/version", "/json/version"):
            return self._send(*json2.web_version(app))
        if path.startswith("/doc-bearer/") and path.endswith(".json") and app.profile == "19":
            return self._send(*json2.doc_bearer(app, path[len("/doc-bearer/"):-5], headers))
        if path.startswith("/xmlrpc/2/"):
            return self._rpc("xmlrpc2", path[len("/xmlrpc/2/"):], verb, path, headers, body)
        if path.startswith("/xmlrpc/"):
            return self._rpc("xmlrpc", path[len("/xmlrpc/"):], verb, path, headers, body)
        if path == "/jsonrpc":
            return self._rpc("jsonrpc", "", verb, path, headers, body)
        if (path == "/json/2" or path.startswith("/json/2/")) and app.profile == "19":
            return self._rpc("json2", "", verb, path, headers, body)
        self._send(404, {"Content-Type": "text/html; charset=utf-8"},
                   b"<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n")

    # -- control endpoint ------------------------------------------------------------------
    def _control(self, verb: str, path: str, body: bytes) -> None:
        state = self.server.state
        if path == "/sandbox/health":
            return self._send_json(200, {"ok": True, "profile": self.server.app.profile,
                                         "db": self.server.app.db})
        if path == "/sandbox/stats":
            return self._send_json(200, state.snapshot())
        if path == "/sandbox/control":
            if verb == "POST":
                try:
                    values = json.loads(body or b"{}")
                    state.configure(values if isinstance(values, dict) else {})
                except (ValueError, KeyError) as exc:
                    return self._send_json(400, {"error": str(exc)})
            return self._send_json(200, state.snapshot()["faults"])
        if path == "/sandbox/reset" and verb == "POST":
            state.reset()
            return self._send_json(200, state.snapshot())
        self._send_json(404, {"error": f"unknown control path {path}"})

    # -- RPC -------------------------------------------------------------------------------
    def _rpc(self, kind: str, service: str, verb: str, path: str, headers: dict[str, str],
             body: bytes) -> None:
        srv = self.server
        name = _peek(kind, service, path, body) if srv.state.faults.fault_methods else kind
        faults, fault = srv.state.decide(name)
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000.0)
        if fault == "http_503":
            srv.state.count(kind, "", 0)
            return self._send(503, {"Content-Type": "text/html; charset=utf-8", "Retry-After": "1"},
                              b"<h1>503 Service Unavailable</h1>\n")
        if fault == "reset" or (fault == "slow" and faults.slow_mode == "before"):
            if fault == "slow":
                time.sleep(faults.slow_s)
            srv.state.count(kind, "", 0)
            return self._reset_connection()
        info = rpc.CallInfo()
        with srv.workers:
            started = time.monotonic()
            status, out_headers, payload = self._execute(kind, service, verb, path, headers, body, info)
            wait = srv.service_time(info.created, info.posted) - (time.monotonic() - started)
            if wait > 0:
                time.sleep(wait)
        srv.state.count(kind, f"{info.model}.{info.method}" if info.model else "", info.created)
        if fault == "drop_after_commit":
            return self._reset_connection()
        if fault == "slow":
            time.sleep(faults.slow_s)
        try:
            self._send(status, out_headers, payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired)

    def _execute(self, kind: str, service: str, verb: str, path: str, headers: dict[str, str],
                 body: bytes, info: rpc.CallInfo) -> tuple[int, dict[str, str], bytes]:
        app = self.server.app
        if kind == "json2":
            return json2.handle_json2(app, verb, path, headers, body, info)
        if verb != "POST":
            return 405, {"Content-Type": "text/plain"}, b"Method Not Allowed"
        if kind == "jsonrpc":
            return 200, {"Content-Type": "application/json"}, rpc.handle_jsonrpc(app, body, info)
        payload = rpc.handle_xmlrpc(app, service, body, kind == "xmlrpc", info)
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, payload
