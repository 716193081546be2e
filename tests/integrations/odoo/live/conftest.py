"""Fixtures that run the Odoo sandbox over real HTTP (both profiles)."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import uuid
from decimal import Decimal

import pytest

from integrations.odoo.binder import InMemoryBinder
from integrations.odoo.client import CallRecord, OdooClient, OdooConfig
from integrations.odoo.employees import export_employees
from integrations.odoo.types import EmployeeExport, ExpensePosting, PostingLine, Receipt

testing = pytest.importorskip("integrations.odoo.sandbox.testing")

EUR, USD = 125, 1
PURCHASE_TAX_15 = 2  # not price-included: a bill line's price is untaxed
PURCHASE_TAX_15_INCL = 3  # "15% (incl.)": expense taxes are price-included, as in Odoo
ANALYTIC = 1
MEALS, TRAVEL, GIFTS, OTHERS = 1, 2, 4, 6
PDF = base64.b64encode(b"%PDF-1.4 receipt").decode()


@pytest.fixture(scope="module", params=["17", "19"])
def sandbox(request, tmp_path_factory):
    with testing.run_sandbox(tmp_path_factory.mktemp(f"odoo{request.param}"), profile=request.param,
                             latency="none") as box:
        box.profile = request.param
        yield box


def client_for(box, protocol: str = "xmlrpc", records: list | None = None, **kwargs) -> OdooClient:
    config = OdooConfig(url=box.url, db=box.db, login=box.login, password=box.password,
                        api_key=box.api_key, protocol=protocol, timeout=kwargs.pop("timeout", 20.0))
    return OdooClient(config, on_call=records.append if records is not None else None, **kwargs)


@pytest.fixture
def calls() -> list[CallRecord]:
    return []


@pytest.fixture
def client(sandbox, calls) -> OdooClient:
    return client_for(sandbox, records=calls)


_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{next(_counter)}"


@pytest.fixture
def employee_id(client) -> int:
    """A fresh employee with a work email (Odoo posts only for those)."""
    tag = unique("emp")
    [result] = export_employees(client, [EmployeeExport(tag, f"Jane {tag}", f"{tag}@example.com")],
                                binder=InMemoryBinder())
    return result.odoo_id


def make_posting(ref: str, employee_id: int, amount: str = "115.00", tax_id: int = PURCHASE_TAX_15_INCL,
                 **overrides) -> ExpensePosting:
    values = dict(
        ref=ref, employee_id=employee_id, product_id=MEALS, currency_id=USD,
        date=dt.date.today(), description=f"Dinner {ref}",
        lines=(PostingLine(amount=Decimal(amount), tax_ids=(tax_id,),
                           untaxed_amount=(Decimal(amount) / Decimal("1.15")).quantize(Decimal("0.01")),
                           analytic_distribution={str(ANALYTIC): 100.0}),),
        receipts=(Receipt(f"{ref}.pdf", "application/pdf", PDF),),
    )
    values.update(overrides)
    return ExpensePosting(**values)


@pytest.fixture
def supports(sandbox, client):
    """Skip journal-entry tests while the sandbox cannot create a vendor bill from values
    (it leaves ``state``/``amount_total`` unset): a real Odoo does, so they stay written."""

    def check(mode: str) -> None:
        if mode != "journal_entry":
            return
        if not hasattr(sandbox, "_bills_ok"):
            [move] = client.create("account.move", [{
                "move_type": "in_invoice", "partner_id": 1, "journal_id": 2,
                "invoice_line_ids": [(0, 0, {"name": "probe", "price_unit": 1.0, "quantity": 1.0})]}])
            row = client.read("account.move", [move], ["state", "amount_total"])[0]
            sandbox._bills_ok = row["state"] == "draft" and row["amount_total"] == 1.0
        if not sandbox._bills_ok:
            pytest.skip("the sandbox does not build account.move from create values yet")

    return check
