"""Expense services: every write to an expense goes through one of these.

Each takes the acting party (``actor``) first, keyword-only, and records it with a reason in
the history. The shape is always: lock the row → check the transition may proceed →
transition → save once → record events / jobs in the same transaction (they are delivered
after commit by the sync engine). Segregation-of-duties refusals are recorded as
``sod_conflict`` exceptions after the refused transaction has rolled back.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from controlplane.approvals.services import chain_freeze, chain_supersede, step_decide
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import Conflict
from controlplane.expenses.amend import expense_amend, expense_upsert_from_source
from controlplane.expenses.duplicates import duplicates_report
from controlplane.expenses.models import Expense, ExpensePosting
from controlplane.expenses.policy import run_checks, stored_lines
from controlplane.expenses.receipts import receipt_attach
from controlplane.expenses.sod import SodRefusal, person_keys, record_refusal, same_person
from controlplane.expenses.states import PaymentState, PostingState
from controlplane.expenses.workflow import apply_transition, check_writer, emit, enqueue_posting, get_expense
from controlplane.odoo.payments import odoo_payment_enqueue

__all__ = [
    "expense_upsert_from_source", "expense_amend", "receipt_attach", "expense_submit", "expense_withdraw",
    "submit_locked", "approval_decide", "expense_finance_review", "expense_mark_posted", "expense_mark_reimbursed",
    "expense_archive",
]


def _refuse_other_system(actor: Actor, expense: Expense) -> None:
    # Submission and withdrawal belong to the source system (or a person in the control plane).
    if actor.system is not None and getattr(actor.system, "pk", None) != expense.source_system_id:
        check_writer(actor, expense, writer=actor.system)


def submit_locked(*, actor: Actor, expense: Expense, lines: list | None = None,
                  unseen: Collection[int] = ()) -> Expense:
    """The body of :func:`expense_submit` on an expense the caller has locked (or inserted in
    its transaction), inside the caller's transaction and ``acting`` block, its writer
    already checked (shared with the bulk ingest). Raises what ``expense_submit`` raises
    after its writer check; on a raise the caller's transaction must be rolled back.
    ``unseen``: expenses inserted with this one that come after it (``policy.evaluate``)."""
    apply_transition(expense, expense.submit)
    if lines is None:
        lines = stored_lines(expense)  # read once for the checks and the routing
    findings = run_checks(expense, lines, unseen)
    expense.save()
    chain_freeze(expense=expense, lines=lines)
    emit(actor, "expense.submitted", expense)
    duplicates_report(actor=actor, expense=expense, findings=findings)
    return expense


def expense_submit(*, actor: Actor, expense_id) -> Expense:
    """Draft/returned → submitted: run the policy checks (hard failures raise
    ``ValidationFailed`` with field paths and write nothing; soft ones set
    ``policy_flagged``; a suspected duplicate also opens a ``duplicate_suspected``
    exception), freeze the approval chain, record ``expense.submitted``. A system
    other than the expense's source is checked as a writer before anything is written."""
    if actor.system is not None:  # a person in the control plane may submit any expense
        _refuse_other_system(actor, get_expense(expense_id))
    with transaction.atomic(), acting(actor, actor.reason or "submitted"):
        return submit_locked(actor=actor, expense=get_expense(expense_id, lock=True))


def expense_withdraw(*, actor: Actor, expense_id, reason: str = "") -> Expense:
    """The submitter (through its source) takes the expense back before finance review."""
    _refuse_other_system(actor, get_expense(expense_id))
    with transaction.atomic(), acting(actor, f"withdrawn: {reason}" if reason else "withdrawn"):
        expense = get_expense(expense_id, lock=True)
        apply_transition(expense, expense.withdraw, reason)
        expense.save()
        chain_supersede(expense=expense, why="withdrawn")
        emit(actor, "expense.withdrawn", expense, reason=reason)
    return expense


def decision_reason(decision: str, comment: str = "") -> str:
    """The history reason of an approval decision."""
    return f"{decision}: {comment}" if comment else decision


def decide_locked(*, actor: Actor, expense: Expense, approver, decision: str, comment: str = "") -> Expense:
    """The body of :func:`approval_decide` on an expense the caller has locked, inside the
    caller's transaction and ``acting`` block (shared with the bulk service). Raises what
    ``approval_decide`` raises, ``SodRefusal`` unrecorded."""
    if expense.approval_state != "submitted":
        raise Conflict(f"Expense {expense.public_id} is {expense.approval_state}; nothing to decide.",
                       code="invalid_transition")
    outcome = step_decide(actor=actor, expense=expense, approver=approver, decision=decision, comment=comment)
    if outcome == "step_approved":
        emit(actor, "expense.step_approved", expense, approver=approver.code, comment=comment)
        return expense
    if outcome == "all_approved":
        apply_transition(expense, expense.approve)
    elif outcome == "returned":
        apply_transition(expense, expense.send_back, comment)
    else:
        apply_transition(expense, expense.reject, comment)
    expense.save()
    if outcome == "all_approved":
        emit(actor, "expense.step_approved", expense, approver=approver.code, comment=comment)
    event = {"all_approved": "expense.approved", "returned": "expense.returned",
             "rejected": "expense.rejected"}[outcome]
    emit(actor, event, expense, approver=approver.code, comment=comment)
    return expense


def approval_decide(*, actor: Actor, expense_id, approver, decision: str, comment: str = "") -> Expense:
    """``approver`` (an Employee) approves, returns or rejects the pending step.

    Approving the last step moves the expense to ``manager_approved`` (``expense.approved``);
    returning sends it back to the submitter (resubmittable); rejecting closes it. Refused:
    the submitter (``sod_violation``, recorded), anyone not assigned / delegated / in the
    step's group (``not_assigned``), a step decided meanwhile (Conflict)."""
    try:
        with transaction.atomic(), acting(actor, decision_reason(decision, comment)):
            expense = get_expense(expense_id, lock=True)
            decide_locked(actor=actor, expense=expense, approver=approver, decision=decision, comment=comment)
    except SodRefusal as refusal:
        raise record_refusal(actor, refusal) from None
    return expense


def _approver_keys(expense: Expense) -> set:
    keys: set = set()
    for step in expense.approval_steps.filter(status="approved").select_related("decided_by"):
        keys |= person_keys(step.decided_by)
        if step.decided_by_user_id:
            keys.add(("u", step.decided_by_user_id))
    return keys


def review_reason(comment: str = "") -> str:
    """The history reason of a finance review."""
    return f"finance reviewed: {comment}" if comment else "finance reviewed"


@dataclass(frozen=True)
class Reviewer:
    """What a finance review needs to know about its reviewer, looked up once: the
    identities that count as the same person (reviewer and acting user), and the user and
    employee recorded on the expense."""

    person: object
    keys: frozenset
    user: object
    employee: object

    @classmethod
    def of(cls, actor: Actor, reviewer) -> Reviewer:
        user, employee = _user_and_employee(reviewer)
        return cls(person=reviewer, keys=frozenset(person_keys(reviewer) | person_keys(actor.user)),
                   user=user, employee=employee)


def review_locked(*, actor: Actor, expense: Expense, reviewer: Reviewer, comment: str = "") -> Expense:
    """The body of :func:`expense_finance_review` on an expense the caller has locked, inside
    the caller's transaction and ``acting`` block (shared with the bulk service). Raises what
    ``expense_finance_review`` raises, ``SodRefusal`` unrecorded."""
    keys = set(reviewer.keys)
    if same_person(keys, person_keys(expense.employee)):
        raise SodRefusal("The submitter may not review their own expense.", rule="submitter_reviews",
                         expense=expense, person=_label(reviewer.person))
    if same_person(keys, _approver_keys(expense)):
        raise SodRefusal("An approver of this expense may not do its finance review.",
                         rule="approver_reviews", expense=expense, person=_label(reviewer.person))
    apply_transition(expense, expense.finance_review, reviewer.user, reviewer.employee)
    apply_transition(expense, expense.queue_posting)
    expense.save()
    enqueue_posting(actor, expense)
    emit(actor, "expense.finance_reviewed", expense, comment=comment)
    return expense


def expense_finance_review(*, actor: Actor, expense_id, reviewer, comment: str = "") -> Expense:
    """Approved → finance reviewed, and queue the one ledger posting (``odoo.post_expense``,
    idempotency key ``odoo.post_expense:<id>:r<revision>``). ``reviewer`` is a User or an
    Employee; refused (``sod_violation``) when they submitted or approved the expense."""
    try:
        with transaction.atomic(), acting(actor, review_reason(comment)):
            expense = get_expense(expense_id, lock=True)
            review_locked(actor=actor, expense=expense, reviewer=Reviewer.of(actor, reviewer), comment=comment)
    except SodRefusal as refusal:
        raise record_refusal(actor, refusal) from None
    return expense


def expense_mark_posted(*, actor: Actor, expense_id, revision: int, odoo_ref: str = "", document_name: str = "",
                        amount_total: Decimal | None = None, amount_tax: Decimal | None = None) -> Expense:
    """The ledger posted ``revision``: posting → posted, with what Odoo answered. Safe to call
    again for the same revision (returns unchanged); another revision is a Conflict."""
    expense = get_expense(expense_id)
    if actor.system is not None:
        check_writer(actor, expense, writer=actor.system, field_group="", stage="posting")
    with transaction.atomic(), acting(actor, f"posted in the ledger as {document_name or odoo_ref}"):
        expense = get_expense(expense_id, lock=True)
        if expense.posting_revision is not None and int(revision) != expense.posting_revision:
            raise Conflict(f"Revision {revision} was not the one sent for posting (r{expense.posting_revision}).",
                           code="revision_mismatch")
        if expense.posting_state == PostingState.POSTED:
            return expense
        apply_transition(expense, expense.mark_posted)
        expense.save()
        ExpensePosting.objects.create(
            expense=expense, revision=expense.posting_revision, reference=expense.posting_reference,
            odoo_ref=str(odoo_ref or "")[:255], document_name=(document_name or "")[:255],
            amount_total=amount_total, amount_tax=amount_tax,
        )
        emit(actor, "expense.posted", expense, odoo_ref=str(odoo_ref or ""), document_name=document_name,
             reference=expense.posting_reference)
        odoo_payment_enqueue(actor=actor, expense=expense)  # reimbursed before posting: feed Odoo now
    return expense


def expense_mark_reimbursed(*, actor: Actor, expense_id, payment_ref: str, paid_by=None) -> Expense:
    """Payroll / bank paid the employee: unpaid → paid (before or after posting). Safe to call
    again with the same reference. Refused (``sod_violation``) when the payer — ``paid_by`` or
    the acting user — did the finance review."""
    expense = get_expense(expense_id)
    if actor.system is not None:
        check_writer(actor, expense, writer=actor.system, field_group="", stage="payment")
    try:
        with transaction.atomic(), acting(actor, f"reimbursed: {payment_ref}"):
            expense = get_expense(expense_id, lock=True)
            if expense.payment_state == PaymentState.PAID:
                if expense.payment_reference == payment_ref:
                    return expense
                raise Conflict(f"Expense {expense.public_id} is already paid ({expense.payment_reference}).",
                               code="already_paid")
            reviewer = person_keys(expense.finance_reviewed_by) | person_keys(expense.finance_reviewed_by_employee)
            if same_person(person_keys(paid_by) | person_keys(actor.user), reviewer):
                raise SodRefusal("The finance reviewer of this expense may not mark it paid.",
                                 rule="reviewer_pays", expense=expense, person=_label(paid_by or actor.user))
            user = actor.user if getattr(actor.user, "pk", None) else None
            apply_transition(expense, expense.mark_paid, payment_ref, paid_by, user)
            expense.save()
            emit(actor, "expense.reimbursed", expense, payment_ref=payment_ref)
            odoo_payment_enqueue(actor=actor, expense=expense)  # posted already: feed Odoo the payment
    except SodRefusal as refusal:
        raise record_refusal(actor, refusal) from None
    return expense


def expense_archive(*, actor: Actor, expense_id) -> Expense:
    """Finance reviewed, posted and paid → archived."""
    with transaction.atomic(), acting(actor, actor.reason or "archived"):
        expense = get_expense(expense_id, lock=True)
        apply_transition(expense, expense.archive)
        expense.save()
        emit(actor, "expense.archived", expense)
    return expense


def _user_and_employee(person):
    from controlplane.masterdata.models import Employee

    if person is None:
        return None, None
    if isinstance(person, Employee):
        return person.user, person
    return person, Employee.objects.filter(user_id=person.pk).first()


def _label(person) -> str:
    from controlplane.masterdata.models import Employee

    if person is None:
        return ""
    return f"employee:{person.pk}" if isinstance(person, Employee) else f"user:{person.pk}"
