"""The client over fake wires and over tiny local HTTP servers (no Odoo needed)."""

from __future__ import annotations

import json
import threading
import time
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.errors import PermanentError, RetryableError, UnknownOutcomeError
from integrations.odoo.client import CallRecord, OdooClient, OdooConfig, use_correlation_id


class FakeWire:
    protocol = "xmlrpc"

    def __init__(self, *results):
        self.results = list(results)
        self.calls = []

    def version(self):
        return {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""]}

    def login(self):
        return 2

    def execute(self, model, method, args, kwargs):
        self.calls.append((model, method, args, kwargs))
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


def make_client(*results, **kwargs):
    wire = FakeWire(*results)
    return OdooClient(OdooConfig(url="http://odoo:8069", db="db", login="a", password="b"),
                      wire=wire, **kwargs), wire


def test_given_the_none_marshal_fault_when_calling_then_none_is_returned_and_recorded():
    records: list[CallRecord] = []
    client, _ = make_client(xmlrpc.client.Fault("cannot marshal None unless allow_none is enabled", "tb"),
                            on_call=records.append)
    with use_correlation_id("req-42"):
        assert client.call("hr.expense.sheet", "action_submit_sheet", [12]) is None
    assert [(r.model, r.method, r.outcome, r.correlation_id) for r in records[1:]] == [
        ("hr.expense.sheet", "action_submit_sheet", "none_result", "req-42")
    ]


def test_given_a_user_error_when_calling_then_permanent_error_is_raised_and_recorded():
    records: list[CallRecord] = []
    fault = xmlrpc.client.Fault("warning -- UserError\n\nYou cannot report twice the same line!", "")
    client, _ = make_client(fault, on_call=records.append)
    with pytest.raises(PermanentError) as caught:
        client.create("hr.expense", [{"name": "x"}])
    assert caught.value.message == "You cannot report twice the same line!"
    assert (records[-1].outcome, records[-1].error_code) == ("permanent", "UserError")


def test_given_a_broken_metrics_hook_when_calling_then_the_call_still_succeeds():
    def hook(record):
        raise RuntimeError("metrics down")

    client, _ = make_client([7], on_call=hook)
    assert client.create("hr.department", [{"name": "Sales"}]) == [7]


def test_create_sends_one_call_for_the_whole_batch_and_checks_the_id_count():
    client, wire = make_client([1, 2, 3], [4])
    assert client.create("hr.expense", [{"n": 1}, {"n": 2}, {"n": 3}]) == [1, 2, 3]
    assert len(wire.calls) == 1 and wire.calls[0][2] == [[{"n": 1}, {"n": 2}, {"n": 3}]]
    with pytest.raises(PermanentError):
        client.create("hr.expense", [{"n": 1}, {"n": 2}])


def test_version_is_detected_once():
    client, _ = make_client()
    assert client.version().major == 17
    assert client.version().label == "17.0"


def test_config_refuses_unknown_protocols_and_unbounded_timeouts():
    with pytest.raises(ValueError):
        OdooConfig(url="http://x", db="d", protocol="soap")
    with pytest.raises(ValueError):
        OdooConfig(url="http://x", db="d", timeout=0)


# --------------------------------------------------------------------------- real sockets


class _Server:
    """A local HTTP server whose handler behaviour each test chooses."""

    def __init__(self, behaviour):
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                server.requests += 1
                behaviour(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(handler, status, payload, content_type="text/xml", headers=None):
    data = payload.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def _xmlrpc_ok(handler, body):
    method = xmlrpc.client.loads(body)[1]
    result = 2 if method == "login" else 99
    _reply(handler, 200, xmlrpc.client.dumps((result,), methodresponse=True))


def _xml_client(port, protocol="xmlrpc", **kwargs):
    return OdooClient(OdooConfig(url=f"http://127.0.0.1:{port}", db="db", login="admin",
                                 password="admin", protocol=protocol, **kwargs))


def test_given_a_dropped_response_when_creating_then_unknown_outcome_and_no_resend():
    def behaviour(handler, body):
        if xmlrpc.client.loads(body)[1] == "login":
            return _xmlrpc_ok(handler, body)
        handler.close_connection = True
        handler.connection.shutdown(2)  # applied, then the answer is lost

    with _Server(behaviour) as server:
        client = _xml_client(server.port)
        with pytest.raises(UnknownOutcomeError):
            client.create("hr.expense", [{"name": "x"}])
        # stdlib xmlrpc would have sent the create a second time
        assert server.requests == 2  # login + one create


def test_given_a_slow_server_when_the_timeout_passes_then_unknown_outcome():
    def behaviour(handler, body):
        if xmlrpc.client.loads(body)[1] == "login":
            return _xmlrpc_ok(handler, body)
        time.sleep(2)

    with _Server(behaviour) as server:
        client = _xml_client(server.port, timeout=0.3)
        with pytest.raises(UnknownOutcomeError) as caught:
            client.create("hr.expense", [{"name": "x"}])
        assert caught.value.code == "timeout"


def test_given_503_with_retry_after_when_calling_then_retryable_with_hint():
    def behaviour(handler, body):
        if xmlrpc.client.loads(body)[1] == "login":
            return _xmlrpc_ok(handler, body)
        _reply(handler, 503, "busy", "text/plain", {"Retry-After": "3"})

    with _Server(behaviour) as server:
        with pytest.raises(RetryableError) as caught:
            _xml_client(server.port).search("res.partner", [])
        assert caught.value.retry_after == 3.0


def test_given_nothing_listening_when_calling_then_retryable():
    with _Server(_xmlrpc_ok) as server:
        port = server.port
    client = _xml_client(port)
    with pytest.raises(RetryableError) as caught:
        client.search("res.partner", [])
    assert not isinstance(caught.value, UnknownOutcomeError)


def test_json2_sends_named_arguments_with_bearer_and_maps_422():
    seen = []

    def behaviour(handler, body):
        seen.append((handler.path, handler.headers.get("Authorization"), json.loads(body)))
        if handler.path.endswith("/create"):
            return _reply(handler, 200, "[5, 6]", "application/json")
        _reply(handler, 422, json.dumps({"name": "odoo.exceptions.UserError",
                                         "message": "Only draft expenses can have a total of 0."}),
               "application/json")

    with _Server(behaviour) as server:
        client = OdooClient(OdooConfig(url=f"http://127.0.0.1:{server.port}", db="db",
                                       api_key="k", protocol="json2"))
        assert client.create("hr.expense", [{"name": "a"}, {"name": "b"}]) == [5, 6]
        with pytest.raises(PermanentError) as caught:
            client.call("hr.expense", "action_submit", [5])
    assert caught.value.message == "Only draft expenses can have a total of 0."
    assert seen[0] == ("/json/2/hr.expense/create", "Bearer k", {"vals_list": [{"name": "a"}, {"name": "b"}]})
    assert seen[1][2] == {"ids": [5]}
