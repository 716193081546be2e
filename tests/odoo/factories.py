"""Expenses ready to post (finance reviewed, posting queued), built directly for the Odoo tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from decimal import Decimal

from django.core.files.base import ContentFile

from controlplane.core.actors import Actor
from controlplane.expenses.models import Expense, ExpenseAllocation, ExpenseLine, Receipt
from controlplane.expenses.states import ApprovalState, PostingState
from controlplane.sync.services import outbox_enqueue
from tests.factories import ExternalSystemFactory

_seq = itertools.count(1)
CENT = Decimal("0.01")


def ready_expense(*, entity, employee, category, tax=None, amounts=("115.00",), analytic=None, receipt=True,
                  currency=None) -> Expense:
    """A finance-reviewed expense whose posting is queued (revision 1), with one line per amount."""
    source = ExternalSystemFactory(code="expenses-app", kind="expense_platform")
    n = next(_seq)
    currency = currency or entity.base_currency
    expense = Expense(source_system=source, source_id=f"exp-{n}", employee=employee, legal_entity=entity,
                      purpose=f"Client dinner {n}", currency=currency, revision=1,
                      approval_state=ApprovalState.FINANCE_REVIEWED, posting_state=PostingState.POSTING,
                      posting_revision=1)
    expense.save()
    total = total_tax = Decimal("0")
    for position, raw in enumerate(amounts, 1):
        gross = Decimal(raw)
        net = (gross / (1 + tax.rate / 100)).quantize(CENT) if tax else gross
        line = ExpenseLine.objects.create(
            expense=expense, position=position, date=dt.date.today(), category=category, merchant="Bistro",
            amount=gross, currency=currency, tax_code=tax, net_amount=net, tax_amount=gross - net, total=gross)
        if analytic is not None:
            ExpenseAllocation.objects.create(line=line, percent=Decimal("100"), analytic_account=analytic)
        total += gross
        total_tax += gross - net
    Expense.objects.filter(pk=expense.pk).update(total_amount=total, total_amount_base=total, total_tax=total_tax)
    expense.refresh_from_db()
    if receipt:
        body = f"%PDF-1.4 receipt {n}".encode()
        digest = hashlib.sha256(body).hexdigest()
        r = Receipt(expense=expense, original_name=f"receipt-{n}.pdf", content_type="application/pdf",
                    size=len(body), sha256=digest)
        r.file.save(digest, ContentFile(body), save=True)
    return expense


def posting_job(expense: Expense, system):
    """The ``odoo.post_expense`` outbox row the lifecycle enqueues at finance review."""
    return outbox_enqueue(actor=Actor(reason="test"), target=system, operation="odoo.post_expense", subject=expense,
                          payload={"expense_id": expense.pk, "revision": expense.posting_revision,
                                   "reference": expense.posting_reference},
                          idempotency_key=f"odoo.post_expense:{expense.pk}:r{expense.posting_revision}")
