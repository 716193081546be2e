"""The expense screens: transition buttons call the services (refusals shown), data is never
saved raw, the history names who / which system / why with a diff, auditors change nothing,
and the change list runs a fixed number of queries."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controlplane.approvals.models import ApprovalStep, StepStatus
from controlplane.core.actors import Actor
from controlplane.expenses import services as s
from controlplane.expenses.models import Expense
from controlplane.masterdata.models import Employee
from controlplane.sync.models import OutboxJob
from tests import factories as f
from tests.expenses.factories import make_expense, make_world
from tests.observability import factories as of

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_world()


def approved(world, who="mgr"):
    """An expense of EMP, submitted and approved by ``who`` (all steps)."""
    expense = make_expense(world, submit=True)
    return s.approval_decide(actor=world.user_actor(who), expense_id=expense.pk, approver=world.people[who],
                             decision="approve", comment="fine")


def approved_by(world, user):
    """An expense approved by an employee whose user is ``user`` (their direct report's)."""
    boss = f.EmployeeFactory(legal_entity=world.entity, user=user)
    report = f.EmployeeFactory(legal_entity=world.entity, manager=boss)
    expense = make_expense(world, submit=True, employee=report.code)
    return s.approval_decide(actor=Actor(user=user), expense_id=expense.pk, approver=boss, decision="approve")


def change_url(expense) -> str:
    return f"/admin/expenses/expense/{expense.pk}/change/"


def transition_url(expense, name) -> str:
    return f"/admin/expenses/expense/{expense.pk}/transition/{name}/"


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_finance_review_button_calls_the_service_and_history_names_user_and_reason(client, finops, world):
    # given an approved expense and finance operations on its page
    expense = approved(world)
    client.force_login(finops)
    page = client.get(change_url(expense))
    assert page.status_code == 200
    assert [t.name for t in page.context["expense_transitions"]] == ["finance_review", "withdraw"]
    assert transition_url(expense, "finance_review") in page.content.decode()
    # when they apply the finance-review transition with a comment
    response = client.post(transition_url(expense, "finance_review"), {"note": "receipts checked"}, follow=True)
    # then the expense is reviewed, its posting queued, and the history row names them and why
    expense.refresh_from_db()
    assert (expense.approval_state, expense.posting_state) == ("finance_reviewed", "posting")
    assert expense.finance_reviewed_by == finops
    assert OutboxJob.objects.filter(operation="odoo.post_expense", object_id=str(expense.pk)).count() == 1
    assert "Finance review: done." in texts(response)
    row = expense.history.first()
    assert (row.history_user, row.history_change_reason) == (finops, "finance reviewed: receipts checked")
    # and the history page shows user, reason and the field-by-field diff
    history = client.get(f"/admin/expenses/expense/{expense.pk}/history/").content.decode()
    assert "finance reviewed: receipts checked" in history and "finops" in history
    assert "manager_approved&nbsp;&rarr;&nbsp;finance_reviewed" in history
    assert "expenses-app" in history  # the source system's own changes
    assert "Deleted" not in history  # an empty foreign key is "—", not a deleted object


def test_segregation_of_duties_refusal_is_shown_and_nothing_changes(client, finops, world):
    # given finance operations are also the employee who approved the expense
    expense = approved_by(world, finops)
    client.force_login(finops)
    # when they try the finance review
    response = client.post(transition_url(expense, "finance_review"), {"note": "mine"}, follow=True)
    # then the service's refusal is shown and the expense is unchanged
    assert "Finance review refused: An approver of this expense may not do its finance review." in texts(response)
    expense.refresh_from_db()
    assert expense.approval_state == "manager_approved"


def test_approver_buttons_only_for_the_pending_steps_approver(client, finops, world):
    # given a submitted expense waiting for MGR, whose user is finops
    Employee.objects.filter(pk=world.people["mgr"].pk).update(user=finops)
    expense = make_expense(world, submit=True)
    other = f.UserFactory(username="other", is_staff=True, is_superuser=True)
    # then finops sees approve/return/reject, another user does not
    client.force_login(finops)
    names = [t.name for t in client.get(change_url(expense)).context["expense_transitions"]]
    assert {"approve", "return", "reject"} <= set(names)
    client.force_login(other)
    assert "approve" not in [t.name for t in client.get(change_url(expense)).context["expense_transitions"]]
    # when finops returns it (a reason is required)
    client.force_login(finops)
    assert client.post(transition_url(expense, "return"), {"note": ""}).status_code == 200  # form again
    client.post(transition_url(expense, "return"), {"note": "missing receipt"})
    # then the step and the expense are returned
    expense.refresh_from_db()
    assert expense.approval_state == "returned" and expense.decision_comment == "missing receipt"
    assert ApprovalStep.objects.filter(expense=expense, status=StepStatus.RETURNED).count() == 1


def test_mark_reimbursed_needs_a_payment_reference_then_archive(client, finops, world):
    # given a reviewed and posted expense
    expense = approved(world)
    s.expense_finance_review(actor=world.user_actor("fin"), expense_id=expense.pk, reviewer=world.people["fin"].user)
    s.expense_mark_posted(actor=Actor(reason="ledger"), expense_id=expense.pk, revision=1, odoo_ref="7",
                          document_name="BILL/7")
    client.force_login(finops)
    # when reimbursing without a reference, the form is shown again with an error
    response = client.post(transition_url(expense, "mark_reimbursed"), {"note": "x"})
    assert response.status_code == 200 and response.context["form"].errors["payment_reference"]
    # when with one
    client.post(transition_url(expense, "mark_reimbursed"), {"payment_reference": "PAY-42"})
    expense.refresh_from_db()
    assert (expense.payment_state, expense.payment_reference) == ("paid", "PAY-42")
    # then archive is offered and works
    assert "archive" in [t.name for t in client.get(change_url(expense)).context["expense_transitions"]]
    client.post(transition_url(expense, "archive"), {"note": "settled"})
    expense.refresh_from_db()
    assert expense.approval_state == "archived"
    assert expense.history.first().history_change_reason == "settled"


def test_unavailable_transition_is_refused_with_a_message(client, finops, world):
    expense = make_expense(world)  # draft: no finance review possible
    client.force_login(finops)
    response = client.post(transition_url(expense, "finance_review"), {"note": "x"}, follow=True)
    assert "Finance review is not possible now." in texts(response)
    expense.refresh_from_db()
    assert expense.approval_state == "draft"


def test_no_raw_save_of_an_expense(client, finops, world):
    expense = approved(world)
    client.force_login(finops)
    before = expense.history.count()
    response = client.post(change_url(expense), {"approval_state": "finance_reviewed", "_save": "Save"})
    assert response.status_code == 403
    expense.refresh_from_db()
    assert expense.approval_state == "manager_approved" and expense.history.count() == before


def test_auditor_sees_no_transition_and_is_refused(client, auditor, world):
    expense = approved(world)
    client.force_login(auditor)
    page = client.get(change_url(expense))
    assert page.status_code == 200 and page.context["expense_transitions"] == []
    assert "/transition/" not in page.content.decode()
    assert "reconcile-with-odoo" not in client.get("/admin/expenses/expense/").content.decode()
    assert client.post("/admin/expenses/expense/reconcile/", {"system": "1"}).status_code == 403
    assert client.post(transition_url(expense, "finance_review"), {"note": "x"}).status_code == 403
    assert "finance_review_selected" not in client.get("/admin/expenses/expense/").context["cl"].model_admin \
        .get_actions(client.get("/admin/expenses/expense/").wsgi_request)
    assert client.get(f"/admin/expenses/expense/{expense.pk}/history/").status_code == 200
    expense.refresh_from_db()
    assert expense.approval_state == "manager_approved"


def test_bulk_finance_review_reports_successes_and_refusals(client, finops, world):
    # given two approved expenses, one of them approved by finops (segregation of duties)
    ok = approved(world)
    refused = approved_by(world, finops)
    client.force_login(finops)
    # when finance operations review both from the list
    response = client.post("/admin/expenses/expense/", {"action": "finance_review_selected",
                                                         "_selected_action": [ok.pk, refused.pk]}, follow=True)
    # then one is reviewed and the refusal names the other
    messages = texts(response)
    assert "Finance reviewed 1 expense(s)." in messages
    assert any(m.startswith(f"Refused for {refused.source_id}: An approver") for m in messages)
    assert Expense.objects.get(pk=ok.pk).approval_state == "finance_reviewed"
    assert Expense.objects.get(pk=refused.pk).approval_state == "manager_approved"


def test_change_page_shows_chain_lines_jobs_and_receipt_download(client, finops, world, auditor):
    # given a reviewed expense with a receipt
    expense = approved(world)
    s.receipt_attach(actor=world.actor("receipt"), expense_id=expense.pk, content=b"%PDF-1.4 taxi",
                     filename="taxi.pdf", content_type="application/pdf")
    s.expense_finance_review(actor=world.user_actor("fin"), expense_id=expense.pk, reviewer=world.people["fin"].user)
    client.force_login(finops)
    page = client.get(change_url(expense)).content.decode()
    # then the frozen chain with its decision, the lines, the posting job and the receipt are there
    assert "Approval chain (frozen at submission)" in page and "fine" in page
    assert 'id="sync-jobs"' in page and "odoo.post_expense" in page
    assert "Rail Co" in page and "taxi.pdf" in page
    receipt = expense.receipts.get()
    download = client.get(f"/admin/expenses/expense/{expense.pk}/receipts/{receipt.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 taxi"
    client.logout()
    assert client.get(f"/admin/expenses/expense/{expense.pk}/receipts/{receipt.pk}/").status_code == 302  # login


def test_search_by_public_id_and_employee_email(client, finops, world):
    expense = make_expense(world)
    other = make_expense(world, employee="EMP2")
    client.force_login(finops)
    found = client.get("/admin/expenses/expense/", {"q": str(expense.public_id)}).context["cl"].result_list
    assert [e.pk for e in found] == [expense.pk]
    email = world.people["emp2"].email
    found = client.get("/admin/expenses/expense/", {"q": email}).context["cl"].result_list
    assert [e.pk for e in found] == [other.pk]
    found = client.get("/admin/expenses/expense/", {"q": expense.source_id}).context["cl"].result_list
    assert [e.pk for e in found] == [expense.pk]


def make_expenses(n: int) -> None:
    """``n`` expenses over fresh entities, employees and systems, each with a pending step and a job."""
    entities = [f.LegalEntityFactory() for _ in range(2)]
    sources = [f.ExternalSystemFactory(kind="expense_platform") for _ in range(2)]
    for i in range(n):
        entity = entities[i % 2]
        exp = of.expense(entity=entity, source=sources[i % 2], employee=f.EmployeeFactory(legal_entity=entity))
        ApprovalStep.objects.create(expense=exp, revision=1, order=1, kind="employee", status=StepStatus.PENDING,
                                    approver=f.EmployeeFactory(legal_entity=entity))
        of.job(operation="odoo.post_expense", subject=exp, idempotency_key=f"k-{exp.pk}")


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_change_list_with_100_rows_runs_a_fixed_number_of_queries(client, finops, django_assert_max_num_queries):
    client.force_login(finops)
    make_expenses(5)
    small = queries_for(client, "/admin/expenses/expense/")
    make_expenses(95)
    with django_assert_max_num_queries(14):
        response = client.get("/admin/expenses/expense/?approval_state=submitted")
    rows = response.context["cl"].result_list
    assert len(rows) == 100 and all(r.open_jobs == 1 and r.pending_approver for r in rows)
    assert queries_for(client, "/admin/expenses/expense/") == small


def test_approval_policy_page_lists_rules_in_order_with_steps(client, finops, world):
    from tests.expenses.factories import ApprovalPolicyFactory, add_rule

    policy = ApprovalPolicyFactory(legal_entity=world.entity)
    add_rule(policy, order=20, name="big", steps=[{"kind": "manager"}, {"kind": "employee",
                                                                        "employee": world.people["vp"]}])
    add_rule(policy, order=10, name="small", steps=[])
    client.force_login(finops)
    page = client.get(f"/admin/approvals/approvalpolicy/{policy.pk}/change/").content.decode()
    assert page.index("small") < page.index("big")
    assert "A named employee" in page
    step = ApprovalStep.objects.create(expense=make_expense(world), revision=1, order=1, kind="manager")
    assert client.post(f"/admin/approvals/approvalstep/{step.pk}/change/", {"status": "approved"}).status_code == 403
