"""Every operation of the generated schema × {no token, wrong scope, other system's object,
other legal entity's object, right scope}: no answer leaks an object outside the caller.

The table below must cover every operation in the schema: an endpoint added without a row
here fails ``test_every_operation_is_covered``.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from controlplane.api.models import Scope
from controlplane.api.permissions import required_scope
from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor
from controlplane.events.services import subscription_create
from controlplane.exceptions.services import exception_open
from controlplane.expenses import services as xs
from controlplane.expenses.models import Expense
from controlplane.masterdata.models import LegalEntity
from controlplane.sync.services import outbox_enqueue
from tests.api.conftest import expense_body

PDF = b"%PDF-1.4\n%test receipt\n"


def _operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted((path, method.upper()) for path, item in schema["paths"].items() for method in item)


OPERATIONS = _operations()
MD_ROWS = {
    "employees": {"legal_entity": "{entity}", "code": "{entity}-NEW", "first_name": "N", "last_name": "E",
                  "email": "new-{entity}@example.com"},
    "departments": {"legal_entity": "{entity}", "code": "NEWDEP", "name": "New"},
    "cost-centres": {"legal_entity": "{entity}", "code": "NEWCC", "name": "New"},
    "projects": {"legal_entity": "{entity}", "code": "NEWPRJ", "name": "New"},
    "categories": {"code": "NEWCAT", "name": "New"},
    "tax-codes": {"legal_entity": "{entity}", "code": "NEWTAX", "name": "New", "rate": "5"},
    "exchange-rates": {"from_currency": "USD", "to_currency": "EUR", "date": "2024-01-02", "rate": "0.9"},
}


def _fill(value, entity: str):
    if isinstance(value, dict):
        return {k: _fill(v, entity) for k, v in value.items()}
    return value.replace("{entity}", entity) if isinstance(value, str) else value


def body_for(path: str, method: str, entity: str = "US01", n: int = 0):
    """A valid request body for the operation (``entity`` decides which entity it names)."""
    emp = "US-EMP1" if entity == "US01" else "FR-EMP1"
    mgr = "US-MGR" if entity == "US01" else "FR-MGR"
    if method in ("GET", "DELETE"):
        return None
    if path == "/api/v1/expenses/":
        return expense_body(f"NEW-{entity}-{n}", entity=entity, employee=emp)
    if path == "/api/v1/expenses/bulk/":
        return {"items": [expense_body(f"BULK-{entity}-{n}", entity=entity, employee=emp)]}
    if path == "/api/v1/approvals/bulk/":
        return {"items": [{"expense": "{eid}", "approver": mgr, "decision": "approve", "comment": "matrix"}]}
    if path == "/api/v1/finance-reviews/bulk/":
        return {"reviewer": "US-VP" if entity == "US01" else "FR-VP", "items": [{"expense": "{eid}"}]}
    if path.startswith("/api/v1/masterdata/") and path.endswith("/bulk/"):
        kind = path.split("/")[4]
        return {"items": [_fill(MD_ROWS[kind], entity)]}
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    return {
        "{eid}": {"purpose": "changed"},
        "submit": {},
        "withdraw": {"reason": "matrix"},
        "receipts": "multipart",
        "decision": {"approver": mgr, "decision": "approve"},
        "finance-review": {"reviewer": "US-VP" if entity == "US01" else "FR-VP"},
        "payment": {"payment_ref": f"PAY-{n}"},
        "event-subscriptions": {"url": "https://hooks.example.com/x", "event_types": ["*"], "legal_entities": [entity]},
        "rotate-secret": {},
        "disable": {"reason": "matrix"},
        "resolve": {"note": "matrix"},
        "replay": {"job_ids": [], "reason": "matrix replay"},
    }[tail]


# Operations that name their object (an expense) in the body rather than in the path.
BODY_OBJECT_PATHS = ("/api/v1/approvals/bulk/", "/api/v1/finance-reviews/bulk/")


def query_for(path: str, entity: str = "US01") -> dict:
    if path == "/api/v1/approvals/pending/":
        return {"approver": "US-MGR" if entity == "US01" else "FR-MGR"}
    return {}


def call(api, path: str, method: str, params: dict, *, entity: str = "US01", n: int = 0):
    url = path
    for name, value in params.items():
        url = url.replace("{" + name + "}", str(value))
    body = body_for(path, method, entity, n)
    if path in BODY_OBJECT_PATHS:
        body = {**body, "items": [{**item, "expense": str(params["eid"])} for item in body["items"]]}
    if path == "/api/v1/sync/replay/" and params.get("_jobs") is not None:
        body = {"job_ids": params["_jobs"], "reason": "matrix replay"}
    if method == "GET":
        return api.get(url, **query_for(path, entity))
    if method == "PATCH":
        return api.patch(url, body)
    if body == "multipart":
        from django.core.files.uploadedfile import SimpleUploadedFile

        return api.post(url, {"file": SimpleUploadedFile("r.pdf", PDF, content_type="application/pdf")}, fmt="multipart")
    return api.post(url, body)


def view_for(path: str, method: str):
    from django.urls import resolve

    sample = path.replace("{eid}", "00000000-0000-0000-0000-000000000000").replace(
        "{sid}", "00000000-0000-0000-0000-000000000000").replace("{id}", "1").replace("{system}", "x")
    match = resolve(sample)
    view_class = match.func.view_class
    view = view_class()
    view.action = None
    view.request = type("R", (), {"method": method})()
    return view


def scope_of(path: str, method: str) -> str | None:
    return required_scope(view_for(path, method))


TOKEN_OPERATIONS = [op for op in OPERATIONS if not op[0].startswith("/api/v1/webhooks/")]


def test_every_operation_is_covered():
    # given the schema / then each token operation has a body, and a declared scope
    for path, method in TOKEN_OPERATIONS:
        body_for(path, method)
        assert scope_of(path, method) in Scope.values, (path, method)


@pytest.fixture
def world(org, make_api):
    """Objects of the caller (expenses-app, US01) and foreign ones: another system's, another entity's."""
    app = ExternalSystem.objects.get(code="expenses-app")
    travel = ExternalSystem.objects.get(code="travel-tool")
    us, fr = org["US01"], org["FR01"]

    def expense(system, source_id, entity, employee):
        e, _ = xs.expense_upsert_from_source(actor=Actor(system=system), source_system=system, source_id=source_id,
                                             data=_service_body(entity, employee))
        return xs.expense_submit(actor=Actor(system=system), expense_id=e.pk)

    def sub(system, entity):
        return subscription_create(actor=Actor(system=system), system=system, url="https://hooks.example.com/a",
                                   event_types=["*"], legal_entities=[entity])

    def exc(system, entity, title):
        return exception_open(actor=Actor(system=system), kind="validation", title=title, system=system,
                              legal_entity=entity)

    def job(system, key):
        return outbox_enqueue(actor=Actor(system=system), target=system, operation="matrix.noop", subject=None,
                              payload={}, idempotency_key=key)

    own = {"eid": expense(app, "OWN-1", us, "US-EMP1").public_id, "sid": sub(app, us).public_id,
           "id": exc(app, us, "own exception").pk, "system": "expenses-app", "_jobs": [job(app, "own-job").pk]}
    other_system = {"eid": expense(travel, "FOREIGN-SYS", us, "US-EMP2").public_id, "sid": sub(travel, us).public_id,
                    "id": exc(travel, us, "foreign exception sys").pk, "system": "travel-tool",
                    "_jobs": [job(travel, "foreign-job").pk]}
    other_entity = {"eid": expense(app, "FOREIGN-ENT", fr, "FR-EMP1").public_id, "sid": sub(app, fr).public_id,
                    "id": exc(app, fr, "foreign exception ent").pk, "system": "expenses-app", "_jobs": []}
    markers = [str(other_system["eid"]), str(other_entity["eid"]), "FOREIGN-SYS", "FOREIGN-ENT",
               str(other_system["sid"]), "foreign exception", "FR01", "FR-"]
    return {"own": own, "other_system": other_system, "other_entity": other_entity, "markers": markers,
            "attacker": make_api("expenses-app", entities=("US01",))}


def _service_body(entity, employee):
    body = expense_body("x", entity=entity.code, employee=employee)
    return {k: v for k, v in body.items() if k not in ("source_id", "submit")}


@pytest.mark.django_db
def test_no_token_is_401_everywhere(world):
    from tests.api.conftest import Api

    anonymous, bad = Api(None), Api("cpt_0123456789_not-a-real-token")
    failures = []
    for path, method in TOKEN_OPERATIONS:
        for api in (anonymous, bad):
            response = call(api, path, method, world["own"])
            if response.status_code != 401 or response["Content-Type"] != "application/problem+json":
                failures.append((path, method, response.status_code))
            elif "Bearer" not in response.get("WWW-Authenticate", ""):
                failures.append((path, method, "no WWW-Authenticate"))
    assert not failures


@pytest.mark.django_db
def test_wrong_scope_is_403_everywhere(world, make_api):
    failures = []
    for path, method in TOKEN_OPERATIONS:
        needed = scope_of(path, method)
        api = make_api("expenses-app", scopes=[s for s in Scope.values if s != needed], entities=("US01", "FR01"))
        response = call(api, path, method, world["own"])
        if response.status_code != 403 or response.json().get("code") != "insufficient_scope":
            failures.append((path, method, response.status_code))
    assert not failures


def _check_foreign(world, case: str) -> list:
    """The attacker (expenses-app, US01, every scope) against another system's or entity's objects."""
    api, foreign, failures = world["attacker"], world[case], []
    before = {e.pk: (e.revision, e.approval_state, e.payment_state) for e in Expense.objects.all()}
    for n, (path, method) in enumerate(TOKEN_OPERATIONS):
        has_object = any("{" + p + "}" in path for p in ("eid", "sid", "id"))
        entity = "FR01" if case == "other_entity" else "US01"
        response = call(api, path, method, foreign, entity=entity, n=n)
        text = response.content.decode(errors="replace")
        if has_object and response.status_code != 404:
            failures.append((path, method, response.status_code, "object outside scope answered"))
        if path in BODY_OBJECT_PATHS and (response.status_code != 200 or any(
                r["code"] != "not_found" or r["expense"] is not None for r in response.json()["results"])):
            failures.append((path, method, response.status_code, "object outside scope answered"))
        if not has_object and case == "other_entity" and method == "POST" and response.status_code < 300:
            result = response.json()
            if not (result.get("failed") == len(result.get("results", [])) or path == "/api/v1/sync/replay/"):
                failures.append((path, method, response.status_code, "write into another entity accepted"))
        if path == "/api/v1/sync/replay/" and response.status_code == 200 and response.json()["replayed"]:
            failures.append((path, method, "replayed a job of another system"))
        leaked = [m for m in world["markers"] if m in text and not (m == "FR01" and response.status_code >= 400)]
        if leaked:
            failures.append((path, method, response.status_code, f"leaked {leaked}"))
    after = {e.pk: (e.revision, e.approval_state, e.payment_state) for e in Expense.objects.filter(pk__in=before)}
    foreign_ids = {Expense.objects.get(public_id=foreign["eid"]).pk}
    changed = [pk for pk in foreign_ids if before[pk] != after[pk]]
    if changed:
        failures.append(("foreign expense changed", changed))
    return failures


@pytest.mark.django_db
def test_other_systems_objects_are_404_and_never_listed(world):
    assert not _check_foreign(world, "other_system")


@pytest.mark.django_db
def test_other_entities_objects_are_404_and_never_listed(world):
    assert not _check_foreign(world, "other_entity")


@pytest.mark.django_db
def test_right_scope_reaches_every_operation(world):
    api, failures = world["attacker"], []
    for n, (path, method) in enumerate(TOKEN_OPERATIONS):
        response = call(api, path, method, world["own"], n=n)
        code = response.json().get("code") if response["Content-Type"].startswith("application/problem") else None
        if response.status_code in (401, 404) or code == "insufficient_scope" or response.status_code >= 500:
            failures.append((path, method, response.status_code, code))
    assert not failures


@pytest.mark.django_db
def test_inactive_tokens_are_refused(world, make_api):
    import datetime as dt

    from django.utils import timezone

    from controlplane.api.tokens import api_token_revoke

    revoked = make_api()
    api_token_revoke(actor=Actor(reason="test"), token_id=revoked.token.pk, reason="leaked")
    expired = make_api()
    type(expired.token).objects.filter(pk=expired.token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    disabled = make_api("travel-tool")
    ExternalSystem.objects.filter(code="travel-tool").update(enabled=False)
    for api in (revoked, expired, disabled):
        assert api.get("/api/v1/expenses/").status_code == 401
    assert not LegalEntity.objects.filter(code="XX").exists()
