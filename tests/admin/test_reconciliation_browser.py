"""In a real browser against the Odoo sandbox: finance operations run a reconciliation from
the admin and find the amount mismatch planted behind our back in Odoo."""

from __future__ import annotations

import pytest

from controlplane.connections.models import ExternalSystem, SystemKind
from controlplane.core.actors import Actor
from controlplane.masterdata import models as md
from controlplane.odoo.handlers import post_expense_handler
from controlplane.odoo.imports import odoo_import_masterdata
from controlplane.odoo.models import ItemKind, PostingLedger, ReconciliationItem, ReconciliationRun
from integrations.odoo.sandbox.testing import run_sandbox
from tests.factories import CurrencyFactory, EmployeeFactory, LegalEntityFactory
from tests.odoo.conftest import Rpc, own
from tests.odoo.factories import posting_job, ready_expense

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCOUNTING = ("gl_account", "analytic_account", "tax_code", "currency", "exchange_rate", "expense_category",
              "category_accounting")


@pytest.fixture
def sandbox(tmp_path):
    with run_sandbox(tmp_path / "odoo", profile="17", latency="none") as box:
        yield box


@pytest.fixture
def posted(sandbox):
    """Two expenses posted as vendor bills in the sandbox through the real ``odoo.post_expense`` handler."""
    system = ExternalSystem(code="odoo", name="Odoo", kind=SystemKind.ODOO, protocol="xmlrpc",
                            endpoint=sandbox.url, database=sandbox.db, timeout_seconds=20)
    system.set_credentials({"login": sandbox.login, "password": sandbox.password, "api_key": sandbox.api_key})
    system.save()
    entity = LegalEntityFactory(code="US01", name="My Company", base_currency=CurrencyFactory(code="USD"),
                                country="US", posting_mode="journal_entry")
    system.legal_entities.add(entity)
    own(system, *ACCOUNTING)
    odoo_import_masterdata(actor=Actor(reason="browser test import"), system=system)
    category = md.ExpenseCategory.objects.get(code="FOOD")
    employee = EmployeeFactory(legal_entity=entity, email="recon-browser@corp.example")
    expenses = []
    for amount in ("115.00", "46.00"):
        expense = ready_expense(entity=entity, employee=employee, category=category, amounts=(amount,),
                                receipt=False)
        job = posting_job(expense, system)
        assert post_expense_handler([job])[job.id].kind == "ok"
        expenses.append(expense)
    return system, expenses


def test_finops_runs_a_reconciliation_and_finds_the_planted_mismatch(
        browser, login, screenshot, wait, finops, sandbox, posted):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    system, (clean, changed) = posted
    # given a bill whose amount was changed in Odoo behind our back
    move_id = PostingLedger.objects.get(system=system, reference=changed.posting_reference).move_ids[0]
    Rpc(sandbox)("account.move", "write", [move_id], {"amount_total": 999.0})
    login(browser, "finops")
    # when finance operations run the reconciliation from the expense list
    browser.get(browser.live_url("/admin/expenses/expense/"))
    wait(ec.element_to_be_clickable((By.ID, "reconcile-with-odoo"))).click()
    Select(wait(ec.presence_of_element_located((By.ID, "id_system")))).select_by_value(str(system.pk))
    screenshot("reconcile-form")
    browser.find_element(By.CSS_SELECTOR, "#reconcile-form [name=run]").click()
    message = wait(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li"))).text
    screenshot("run")
    # then the run is completed, with the mismatch (and only it) listed on the run's page
    run = ReconciliationRun.objects.get()
    assert run.status == ReconciliationRun.Status.COMPLETED and run.checked == 2
    assert f"Reconciliation #{run.pk} with odoo: 2 posted expense(s) checked; amount_mismatch: 1." in message
    assert f"/admin/odoo/reconciliationrun/{run.pk}/change/" in browser.current_url
    page = browser.find_element(By.ID, "content-main").text
    assert changed.posting_reference in page and "Amount mismatch" in page
    assert clean.posting_reference not in page
    # and in the list of reconciliation items, filtered by kind
    browser.get(browser.live_url(f"/admin/odoo/reconciliationitem/?kind__exact={ItemKind.AMOUNT}"))
    rows = wait(ec.presence_of_element_located((By.ID, "result_list"))).text
    screenshot("items")
    assert changed.posting_reference in rows
    item = ReconciliationItem.objects.get()
    assert (item.kind, item.reference, item.run_id) == (ItemKind.AMOUNT, changed.posting_reference, run.pk)
    # and the run names who started it
    assert run.started_by == "finops"
