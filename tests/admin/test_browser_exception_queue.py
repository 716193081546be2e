"""In a real browser: finance operations override an exception with a written justification
and find it in the history; an auditor sees no change button or action and is refused."""

from __future__ import annotations

import pytest

from controlplane.exceptions.models import ExceptionKind, ExceptionRecord, ExceptionStatus
from tests import factories as f
from tests.observability import factories as of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JUSTIFICATION = "Two distinct taxi rides on the same day; both receipts checked by finance."


def by():
    from selenium.webdriver.common.by import By

    return By


def test_finops_overrides_an_exception_with_a_justification_and_sees_it_in_history(
        browser, login, screenshot, wait, finops):
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    By = by()
    # given an open duplicate-suspected exception in US01 and another one that stays open
    entity = f.LegalEntityFactory(code="US01")
    record = of.open_exception(kind=ExceptionKind.DUPLICATE_SUSPECTED, title="Same taxi amount twice",
                               legal_entity=entity, payload={"amount": "42.00", "merchant": "Taxi"})
    other = of.open_exception(kind=ExceptionKind.VALIDATION, title="Stays open", legal_entity=entity)
    login(browser, "finops")
    # when finance operations open the queue, filtered to active exceptions
    browser.get(browser.live_url("/admin/exceptions/exceptionrecord/?status=active"))
    wait(ec.presence_of_element_located((By.ID, "result_list")))
    screenshot("queue")
    browser.find_element(By.CSS_SELECTOR, f"input.action-select[value='{record.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("override_selected")
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    # the intermediate page asks for the justification; a short one is refused
    text = wait(ec.presence_of_element_located((By.ID, "id_text")))
    text.send_keys("ok")
    browser.find_element(By.CSS_SELECTOR, "#exception-action-form [name=confirm]").click()
    wait(ec.presence_of_element_located((By.CSS_SELECTOR, ".errorlist")))
    screenshot("justification-refused")
    record.refresh_from_db()
    assert record.status == ExceptionStatus.OPEN
    text = browser.find_element(By.ID, "id_text")
    text.clear()
    text.send_keys(JUSTIFICATION)
    browser.find_element(By.CSS_SELECTOR, "#exception-action-form [name=confirm]").click()
    wait(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li.success")))
    screenshot("overridden")
    # then it is overridden, the other one untouched
    record.refresh_from_db()
    assert record.status == ExceptionStatus.OVERRIDDEN
    assert record.resolution == JUSTIFICATION
    assert ExceptionRecord.objects.get(pk=other.pk).status == ExceptionStatus.OPEN
    # and the history page names who and why
    browser.get(browser.live_url(f"/admin/exceptions/exceptionrecord/{record.pk}/history/"))
    wait(ec.presence_of_element_located((By.ID, "change-history")))
    history = browser.find_element(By.ID, "change-history").text
    screenshot("history")
    assert f"overridden: {JUSTIFICATION}" in history
    assert "finops" in history
    # and the payload as received is on the record's page, one click from the queue
    browser.get(browser.live_url(f"/admin/exceptions/exceptionrecord/{record.pk}/change/"))
    page = wait(ec.presence_of_element_located((By.CSS_SELECTOR, ".field-payload_pretty pre"))).text
    assert '"merchant": "Taxi"' in page


def test_auditor_sees_no_change_button_or_action_and_is_refused(browser, login, screenshot, wait, auditor):
    from selenium.webdriver.support import expected_conditions as ec

    By = by()
    record = of.open_exception(kind=ExceptionKind.POSTING_FAILED, title="Odoo refused the posting")
    login(browser, "auditor")
    # the queue: readable, without the action bar or checkboxes
    browser.get(browser.live_url("/admin/exceptions/exceptionrecord/"))
    wait(ec.presence_of_element_located((By.ID, "result_list")))
    screenshot("queue")
    assert browser.find_elements(By.NAME, "action") == []
    assert browser.find_elements(By.CSS_SELECTOR, "input.action-select") == []
    # the record: no save button, no transition button
    browser.get(browser.live_url(f"/admin/exceptions/exceptionrecord/{record.pk}/change/"))
    wait(ec.presence_of_element_located((By.ID, "content-main")))
    screenshot("record")
    assert browser.find_elements(By.CSS_SELECTOR, ".submit-row input[type=submit]") == []
    assert browser.find_elements(By.CSS_SELECTOR, "a.exception-action") == []
    # a POST to the change URL (with a valid CSRF token) is refused with 403
    status = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const token = document.cookie.split('; ').find(c => c.startsWith('csrftoken=')).split('=')[1];
        const body = new FormData(); body.append('csrfmiddlewaretoken', token); body.append('title', 'changed');
        fetch(arguments[0], {method: 'POST', body: body, credentials: 'same-origin'}).then(r => done(r.status));
        """,
        browser.live_url(f"/admin/exceptions/exceptionrecord/{record.pk}/change/"),
    )
    assert status == 403
    # the add page and the transition page are refused too
    for path in ("/admin/masterdata/employee/add/", f"/admin/exceptions/exceptionrecord/{record.pk}/act/override/"):
        browser.get(browser.live_url(path))
        assert "403" in browser.title or "Forbidden" in browser.page_source
    screenshot("forbidden")
    record.refresh_from_db()
    assert record.title == "Odoo refused the posting"


def test_finops_home_shows_the_dashboard(browser, login, screenshot, wait, finops):
    from selenium.webdriver.support import expected_conditions as ec

    By = by()
    entity = f.LegalEntityFactory(code="FR01")
    for _ in range(3):
        of.open_exception(kind=ExceptionKind.POSTING_FAILED, legal_entity=entity)
    login(browser, "finops")
    browser.get(browser.live_url("/admin/"))
    kpi = wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#kpi-exceptions .value"))).text
    screenshot("dashboard")
    assert kpi == "3"
    assert browser.find_elements(By.CSS_SELECTOR, "#trend svg polyline")
