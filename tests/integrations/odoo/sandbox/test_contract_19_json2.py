"""Replay of 19.0/transcript-json2.json: every JSON-2 request, its status and error body."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from integrations.odoo.sandbox.seed import DEMO_API_KEY

from .conftest import recording
from .mapping import Mapper

T = recording("19.0", "transcript-json2.json")
# Steps depending on things the sandbox does not model (web sessions, groups, read_group):
SKIP = {"web session cookie + browser Sec-Fetch-* headers (interactive use)",
        "read_group/formatted_read_group (state counts)", "lookup api_doc.group_allow_doc",
        "is admin in api_doc.group_allow_doc?", "create internal user (base.group_user only)"}
# 200 answers whose value depends on the history of the recorded database:
LOOSE = {"search_count", "name_search", "search_read", "search"}


def send(sandbox, method: str, path: str, headers: dict, body) -> tuple[int, dict, bytes]:
    headers = dict(headers)
    auth = headers.get("Authorization", "")
    headers["Authorization"] = auth.replace("<admin key>", sandbox.api_key).replace("<user key>", DEMO_API_KEY)
    if not auth:
        headers.pop("Authorization")
    if "X-Odoo-Database" in headers and headers["X-Odoo-Database"] == "expenses19":
        headers["X-Odoo-Database"] = sandbox.db
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(sandbox.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def map_body(mapper: Mapper, model: str, method: str, body):
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if "ids" in body and isinstance(body["ids"], list):
        body["ids"] = mapper.ids(model, body["ids"])
    if "context" in body:
        body["context"] = mapper.context(body["context"])
    if "vals_list" in body:
        v = body["vals_list"]
        body["vals_list"] = [mapper.vals(model, x) for x in v] if isinstance(v, list) else mapper.vals(model, v)
    if "vals" in body:
        body["vals"] = mapper.vals(model, body["vals"])
    if "domain" in body and isinstance(body["domain"], list):
        body["domain"] = mapper.domain(model, body["domain"])
    return body


def _user(text: str) -> str:
    """The restricted user's name and id differ from the recorded one."""
    return re.sub(r"Sorry, .*? \(id=\d+\)", "Sorry, <user>", text)


@pytest.fixture(scope="module")
def mapper():
    return Mapper("19")


def _steps(section):
    return [s for s in T[section] if s["step"] not in SKIP]


@pytest.mark.parametrize("section", ["version", "calls", "workflow", "errors"])
def test_replay(sandbox19, mapper, section):
    for step in _steps(section):
        req = step["request"]
        path = req["path"]
        parts = path.split("/")
        model, method = (parts[3], parts[4]) if len(parts) >= 5 else ("", "")
        body = map_body(mapper, model, method, req["body"])
        headers = dict(req["headers"])
        if step["step"].startswith("web session cookie"):
            headers["Cookie"] = "session_id=x"
        status, resp_headers, raw = send(sandbox19, req["method"], path, headers, body)
        label = step["step"]
        assert status == step["status"], f"{label}: {raw[:300]!r}"
        want = step.get("response_body")
        if status == 401:
            assert resp_headers.get("WWW-Authenticate") == "Bearer ", label
        if status != 200:
            if want is not None:
                got = json.loads(raw)
                assert got["name"] == want["name"], label
                if not want["name"].startswith("psycopg2"):
                    assert _user(got["message"]) == _user(want["message"]), label
                    assert _user(str(got["arguments"])) == _user(str(want["arguments"])), label
            else:
                assert resp_headers["Content-Type"].startswith("text/html"), label
            continue
        got = json.loads(raw)
        if method == "create":
            mapper.learn(model, want, got)
            assert isinstance(got, list) and len(got) == len(want), label
        elif isinstance(want, dict) and "type" in want:
            mapper.learn_result(model, method, want, got)
            assert got.get("res_model") == want.get("res_model") and set(got) == set(want), label
        elif method in LOOSE or label == "GET /web/version":
            assert type(got) is type(want), label
        elif isinstance(want, list) and want and isinstance(want[0], dict):
            assert [sorted(r) for r in got] == [sorted(r) for r in want], label
        else:
            assert got == want, label
        for row in (step.get("states_after") or {}).get("hr.expense", []):
            ours = send(sandbox19, "POST", "/json/2/hr.expense/read",
                        {"Authorization": "bearer <admin key>", "Content-Type": "application/json"},
                        {"ids": [mapper.id("hr.expense", row["id"])],
                         "fields": ["state", "approval_state", "total_amount", "tax_amount"]})
            data = json.loads(ours[2])[0]
            for key in ("state", "approval_state", "total_amount", "tax_amount"):
                assert data[key] == row[key], f"{label}: {key}"


def test_doc_bearer(sandbox19):
    status, headers, raw = send(sandbox19, "GET", "/doc-bearer/hr.expense.json",
                                {"Authorization": "bearer <admin key>"}, None)
    assert status == 200
    doc = json.loads(raw)
    assert set(doc) == {"doc", "fields", "methods", "model", "name"}
    assert list(doc["methods"]["search_read"]["parameters"])[:5] == ["domain", "fields", "offset", "limit", "order"]
    assert doc["methods"]["create"]["api"] == ["model"] and "api" not in doc["methods"]["action_submit"]
    status, _, raw = send(sandbox19, "GET", "/doc-bearer/hr.expense.json", {"Authorization": "bearer <user key>"},
                          None)
    assert status == 403 and b"Technical Documentation users" in raw
