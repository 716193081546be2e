"""The expense transitions the admin offers (buttons and bulk actions): which a user may try
on an expense now, and the service each one calls with the staff user as actor."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.http import Http404
from django_fsm import can_proceed

from controlplane.approvals.models import ApprovalStep, StepStatus
from controlplane.core.actors import Actor
from controlplane.expenses import services
from controlplane.expenses.models import Expense
from controlplane.expenses.states import ApprovalState


def employee_of(user):
    from controlplane.masterdata.models import Employee

    return Employee.objects.filter(user_id=getattr(user, "pk", None)).first()


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    note_label: str
    note_required: bool = False
    help_text: str = ""


TRANSITIONS = {t.name: t for t in (
    Transition("finance_review", "Finance review", "Comment", help_text="Queues the one posting to Odoo."),
    Transition("approve", "Approve (as the step's approver)", "Comment"),
    Transition("return", "Return to submitter", "Reason", True),
    Transition("reject", "Reject", "Reason", True),
    Transition("withdraw", "Withdraw", "Reason", True),
    Transition("mark_reimbursed", "Mark reimbursed", "Note"),
    Transition("archive", "Archive", "Reason"),
)}


class TransitionForm(forms.Form):
    payment_reference = forms.CharField(max_length=128, label="Payment reference")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), required=False, max_length=2000)

    def __init__(self, *args, transition: Transition, **kwargs):
        super().__init__(*args, **kwargs)
        if transition.name != "mark_reimbursed":
            del self.fields["payment_reference"]
        self.fields["note"].label = transition.note_label
        self.fields["note"].required = transition.note_required
        self.fields["note"].help_text = transition.help_text


def pending_step_for_user(expense: Expense, user) -> ApprovalStep | None:
    """The expense's pending step if ``user`` is its approver (as the approver's user or as a
    member of the step's group)."""
    if expense.approval_state != ApprovalState.SUBMITTED:
        return None
    step = (expense.approval_steps.filter(status=StepStatus.PENDING).select_related("approver")
            .order_by("cycle", "order").first())
    if step is None:
        return None
    if step.approver_id is not None and step.approver.user_id == user.pk:
        return step
    if step.group_id is not None and user.groups.filter(pk=step.group_id).exists():
        return step
    return None


def available_transitions(expense: Expense, user) -> list[Transition]:
    """Transitions the model allows now and ``user`` may try (the service has the last word)."""
    names = []
    if can_proceed(expense.finance_review):
        names.append("finance_review")
    if pending_step_for_user(expense, user) is not None and employee_of(user) is not None:
        names += ["approve", "return", "reject"]
    if can_proceed(expense.withdraw):
        names.append("withdraw")
    if can_proceed(expense.mark_paid):
        names.append("mark_reimbursed")
    if can_proceed(expense.archive):
        names.append("archive")
    return [TRANSITIONS[n] for n in names]


def run_transition(name: str, *, user, expense_id, note: str = "", payment_reference: str = "") -> Expense:
    """Call the service behind transition ``name`` as ``user``; DomainError on refusal."""
    actor = Actor(user=user, reason=note or f"{TRANSITIONS[name].label} in admin")
    if name == "finance_review":
        return services.expense_finance_review(actor=actor, expense_id=expense_id, reviewer=user, comment=note)
    if name in ("approve", "return", "reject"):
        return services.approval_decide(actor=actor, expense_id=expense_id, approver=employee_of(user),
                                        decision=name, comment=note)
    if name == "withdraw":
        return services.expense_withdraw(actor=actor, expense_id=expense_id, reason=note)
    if name == "mark_reimbursed":
        return services.expense_mark_reimbursed(actor=actor, expense_id=expense_id, payment_ref=payment_reference,
                                                paid_by=employee_of(user))
    if name == "archive":
        return services.expense_archive(actor=actor, expense_id=expense_id)
    raise Http404(name)
