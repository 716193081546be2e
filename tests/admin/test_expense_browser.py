"""In a real browser: finance operations apply the finance-review transition button, see the
new state and the history row with their name and reason, and see the segregation-of-duties
refusal on an expense they approved themselves."""

from __future__ import annotations

import pytest

from controlplane.expenses.models import Expense
from tests.admin.test_expense_admin import approved, approved_by
from tests.expenses.factories import make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "Receipts and cost centre checked against the travel policy."


def by():
    from selenium.webdriver.common.by import By

    return By


def apply_finance_review(browser, wait, expense, note: str) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    By = by()
    browser.get(browser.live_url(f"/admin/expenses/expense/{expense.pk}/change/"))
    wait(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.expense-transition[data-transition=finance_review]"))).click()
    wait(ec.presence_of_element_located((By.ID, "id_note"))).send_keys(note)
    browser.find_element(By.CSS_SELECTOR, "#expense-transition-form [name=confirm]").click()
    wait(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li")))


def test_finops_applies_finance_review_and_sees_history_and_sod_refusal(browser, login, screenshot, wait, finops):
    from selenium.webdriver.support import expected_conditions as ec

    By = by()
    # given an approved expense, and another one that finance operations approved themselves
    world = make_world()
    expense = approved(world)
    own = approved_by(world, finops)
    login(browser, "finops")
    # when they open the approved expense: the state and the transition buttons are shown
    browser.get(browser.live_url(f"/admin/expenses/expense/{expense.pk}/change/"))
    state = wait(ec.presence_of_element_located((By.CSS_SELECTOR, ".field-approval_state .readonly"))).text
    assert state == "Approved (all approval steps)"
    assert not browser.find_elements(By.CSS_SELECTOR, "input[name=_save]")  # no raw save
    screenshot("approved-expense")
    # and apply the finance-review button with a reason
    apply_finance_review(browser, wait, expense, REASON)
    screenshot("finance-reviewed")
    # then the page shows the new state and the success message
    assert "Finance review: done." in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert browser.find_element(By.CSS_SELECTOR, ".field-approval_state .readonly").text == "Finance reviewed"
    assert browser.find_element(By.CSS_SELECTOR, ".field-posting_state .readonly").text == "Posting queued"
    assert "odoo.post_expense" in browser.find_element(By.ID, "sync-jobs").text
    assert Expense.objects.get(pk=expense.pk).approval_state == "finance_reviewed"
    # and the history's newest row names the user and the reason, with the state diff
    browser.get(browser.live_url(f"/admin/expenses/expense/{expense.pk}/history/"))
    newest = wait(ec.presence_of_element_located((By.CSS_SELECTOR, "#change-history tr.history-row")))
    screenshot("history")
    assert newest.find_element(By.CSS_SELECTOR, ".history-user").text == "finops"
    assert newest.find_element(By.CSS_SELECTOR, ".history-reason").text == f"finance reviewed: {REASON}"
    assert "manager_approved → finance_reviewed" in newest.find_element(By.CSS_SELECTOR, ".history-diff").text
    # when they try the same on the expense they approved
    apply_finance_review(browser, wait, own, "my own approval")
    screenshot("sod-refusal")
    # then the segregation-of-duties refusal is shown and nothing changed
    error = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li.error").text
    assert "An approver of this expense may not do its finance review." in error
    assert browser.find_element(By.CSS_SELECTOR, ".field-approval_state .readonly").text == \
        "Approved (all approval steps)"
    assert Expense.objects.get(pk=own.pk).approval_state == "manager_approved"
