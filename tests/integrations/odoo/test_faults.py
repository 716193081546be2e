"""Given a raw failure from the wire, when it is translated, then it lands in the right family."""

from __future__ import annotations

import http.client
import xmlrpc.client

import httpx
import pytest

from integrations.errors import PermanentError, RetryableError, UnknownOutcomeError
from integrations.odoo import faults
from integrations.odoo.wire import HttpStatusError, JsonRPCException, NotSentError

NONE_TRACE = (
    "Traceback (most recent call last):\n  File \"rpc.py\", line 141, in xmlrpc_1\n"
    "TypeError: cannot marshal None unless allow_none is enabled\n"
)


def test_none_marshal_fault_is_recognised_on_both_endpoints():
    legacy = xmlrpc.client.Fault("cannot marshal None unless allow_none is enabled", NONE_TRACE)
    numbered = xmlrpc.client.Fault(1, NONE_TRACE)
    assert faults.is_none_result_fault(legacy)
    assert faults.is_none_result_fault(numbered)
    assert not faults.is_none_result_fault(xmlrpc.client.Fault(2, "Record does not exist"))


@pytest.mark.parametrize(
    ("code", "string", "kind", "message"),
    [
        ("warning -- UserError\n\nThe operation cannot be completed:\nField: Employee", "",
         "UserError", "The operation cannot be completed:\nField: Employee"),
        ("warning -- MissingError\n\nRecord does not exist or has been deleted.\n(Record: hr.expense(99,), User: 2)",
         "", "MissingError", "Record does not exist or has been deleted.\n(Record: hr.expense(99,), User: 2)"),
        ("AccessDenied", "Access Denied", "AccessDenied", "Access Denied"),
        (3, "Access Denied", "AccessDenied", "Access Denied"),
        (4, "Private methods (such as _compute_state) cannot be called remotely.", "AccessError",
         "Private methods (such as _compute_state) cannot be called remotely."),
        (1, "Traceback (most recent call last):\n  File x\nAttributeError: type object 'hr.expense' has no attribute 'x'\n",
         "ServerError", "AttributeError: type object 'hr.expense' has no attribute 'x'"),
        ("type object 'hr.expense' has no attribute 'x'", "Traceback ...", "ServerError",
         "type object 'hr.expense' has no attribute 'x'"),
    ],
)
def test_faults_become_permanent_errors_with_odoos_message(code, string, kind, message):
    error = faults.translate(xmlrpc.client.Fault(code, string), method="create")
    assert isinstance(error, PermanentError)
    assert error.code == kind
    assert error.message == message


@pytest.mark.parametrize(
    "fault",
    [
        xmlrpc.client.Fault(1, "Traceback\npsycopg2.errors.SerializationFailure: could not serialize access due to concurrent update\n"),
        xmlrpc.client.Fault("could not serialize access due to concurrent update", "Traceback ..."),
        xmlrpc.client.Fault(1, "Traceback\npsycopg2.errors.DeadlockDetected: deadlock detected\n"),
    ],
)
def test_serialization_conflicts_are_retryable(fault):
    error = faults.translate(fault, method="write")
    assert type(error) is RetryableError
    assert error.code == "serialization"


@pytest.mark.parametrize(
    ("status", "family"),
    [(429, RetryableError), (503, RetryableError), (502, UnknownOutcomeError), (504, UnknownOutcomeError)],
)
def test_overload_statuses_are_retryable(status, family):
    exc = xmlrpc.client.ProtocolError("http://odoo/xmlrpc/object", status, "busy", {"Retry-After": "7"})
    error = faults.translate(exc, method="create")
    assert type(error) is family
    assert error.retryable
    assert error.retry_after == 7.0


def test_gateway_errors_on_reads_are_plain_retryable():
    exc = HttpStatusError(504, None, "<html>gateway</html>", {})
    assert type(faults.translate(exc, method="search_read")) is RetryableError


@pytest.mark.parametrize("status", [400, 401, 403, 404, 415, 422])
def test_other_4xx_are_permanent(status):
    exc = HttpStatusError(status, {"name": "odoo.exceptions.UserError", "message": "nope"}, "{}", {})
    error = faults.translate(exc, method="create")
    assert isinstance(error, PermanentError)
    assert error.message == "nope"


def test_json2_500_with_error_document_is_permanent_unless_serialization():
    bug = HttpStatusError(500, {"name": "builtins.TypeError", "message": "can only concatenate list"}, "", {})
    conflict = HttpStatusError(500, {"name": "psycopg2.errors.SerializationFailure",
                                     "message": "could not serialize access due to concurrent update"}, "", {})
    assert isinstance(faults.translate(bug, method="action_post_entry"), PermanentError)
    assert type(faults.translate(conflict, method="action_post_entry")) is RetryableError


def test_500_without_odoo_document_is_an_unknown_outcome():
    exc = HttpStatusError(500, None, "<html>Internal Server Error</html>", {})
    assert type(faults.translate(exc, method="create")) is UnknownOutcomeError


def test_jsonrpc_errors_carry_the_odoo_message():
    exc = JsonRPCException({"code": 200, "message": "Odoo Server Error",
                            "data": {"name": "odoo.exceptions.AccessError", "message": "You are not allowed"}})
    error = faults.translate(exc, method="create")
    assert isinstance(error, PermanentError)
    assert (error.code, error.message) == ("AccessError", "You are not allowed")


def test_connection_refused_before_sending_is_retryable_not_unknown():
    error = faults.translate(NotSentError(ConnectionRefusedError(111, "refused")), method="create")
    assert type(error) is RetryableError


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError("timed out"),
        http.client.RemoteDisconnected("Remote end closed connection without response"),
        ConnectionResetError(104, "Connection reset by peer"),
        httpx.ReadTimeout("read timeout"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
def test_failures_after_sending_a_write_are_unknown_outcomes(exc):
    assert type(faults.translate(exc, method="create")) is UnknownOutcomeError
    assert type(faults.translate(exc, method="search_read")) is RetryableError


def test_programming_errors_are_not_swallowed():
    with pytest.raises(TypeError):
        faults.translate(KeyError("x"), method="create")
