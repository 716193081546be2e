"""Policy checks run on submission (and on a material amendment in approval).

Each check yields findings with an outcome: ``hard`` refuses the submission with field-level
errors (and nothing is written), ``soft`` flags the expense for approvers, ``pass`` records
that the check ran. Amounts compared with thresholds and caps are in the entity's base
currency (``line.amount_base``); a threshold is exceeded only when the amount is strictly above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.core.memo import memoized
from controlplane.expenses.states import LIVE, CheckOutcome

HUNDRED = Decimal("100")

CHECKS = (
    "employee_active", "exchange_rate", "date_not_future", "date_not_too_old", "category_mapped",
    "tax_code_entity", "allocation_total", "receipt_required", "category_cap", "duplicate_line",
    "duplicate_receipt",
)


@dataclass(frozen=True)
class Finding:
    code: str
    outcome: str
    field: str = ""
    message: str = ""


def expense_max_age_days() -> int:
    return int(getattr(settings, "EXPENSE_MAX_AGE_DAYS", 90))


def stored_lines(expense) -> list:
    """The stored lines of ``expense`` with what the checks and the routing read (tax code,
    category, allocations with their project / cost centre and its owner): two queries."""
    from django.db.models import Prefetch

    from controlplane.expenses.models import ExpenseAllocation

    shares = ExpenseAllocation.objects.select_related("project__owner", "cost_centre__owner")
    return list(expense.lines.select_related("tax_code", "category").prefetch_related(
        Prefetch("allocations", queryset=shares)))


def category_accounting(entity_id: int) -> dict:
    """Category id → the entity's CategoryAccounting (memoized within a bulk call)."""
    from controlplane.masterdata.models import CategoryAccounting

    return memoized(("category_accounting", entity_id), lambda: {
        m.category_id: m for m in CategoryAccounting.objects.filter(legal_entity_id=entity_id)})


def evaluate(expense, lines: list | None = None, unseen: Collection[int] = ()) -> list[Finding]:
    """Every finding for the stored content of ``expense`` (failures first, then one ``pass``
    per check that found nothing). ``lines``: :func:`stored_lines` when the caller has them.
    ``unseen``: ids of stored expenses that, in request order, come after this one (a bulk
    call inserts its items before submitting them): the duplicate checks ignore them."""
    from controlplane.expenses.models import Expense, Receipt

    findings: list[Finding] = []
    today = timezone.localdate()
    oldest = today - dt.timedelta(days=expense_max_age_days())
    entity_id = expense.legal_entity_id
    mappings = category_accounting(entity_id)
    receipts = list(expense.receipts.all())
    covered_lines = {r.line_id for r in receipts if r.line_id is not None}
    loose_receipts = any(r.line_id is None for r in receipts)
    others = Expense.objects.filter(approval_state__in=LIVE).exclude(pk__in=[expense.pk, *unseen])

    if not expense.employee.active:
        findings.append(Finding("employee_active", CheckOutcome.HARD, "employee", "The employee is inactive."))
    if lines is None:
        lines = stored_lines(expense)
    twins = _twin_lines(expense, lines, unseen)
    for i, line in enumerate(lines):
        p = f"lines.{i}"
        if line.exchange_rate is None:
            findings.append(Finding("exchange_rate", CheckOutcome.HARD, f"{p}.currency",
                                    f"No {line.currency_id} rate to the base currency for {line.date}."))
        if line.date > today:
            findings.append(Finding("date_not_future", CheckOutcome.HARD, f"{p}.date", "The date is in the future."))
        elif line.date < oldest:
            findings.append(Finding("date_not_too_old", CheckOutcome.SOFT, f"{p}.date",
                                    f"Older than {expense_max_age_days()} days."))
        mapping = mappings.get(line.category_id)
        if mapping is None:
            findings.append(Finding("category_mapped", CheckOutcome.HARD, f"{p}.category",
                                    f"Category {line.category.code} is not set up for this legal entity."))
        if line.tax_code is not None and line.tax_code.legal_entity_id != entity_id:
            findings.append(Finding("tax_code_entity", CheckOutcome.HARD, f"{p}.tax_code",
                                    f"Tax code {line.tax_code.code} belongs to another legal entity."))
        total = sum((a.percent for a in line.allocations.all()), Decimal(0))
        if total != HUNDRED:
            findings.append(Finding("allocation_total", CheckOutcome.HARD, f"{p}.allocations",
                                    f"Allocations sum to {total}%, not 100%."))
        if mapping is not None and line.amount_base is not None:
            threshold = mapping.receipt_threshold
            if threshold is not None and line.amount_base > threshold and line.pk not in covered_lines \
                    and not loose_receipts:
                findings.append(Finding("receipt_required", CheckOutcome.SOFT, f"{p}.receipt",
                                        f"A receipt is required above {threshold}."))
            if mapping.cap_amount is not None and line.amount_base > mapping.cap_amount:
                findings.append(Finding("category_cap", CheckOutcome.SOFT, f"{p}.amount",
                                        f"Above the {line.category.code} cap of {mapping.cap_amount}."))
        twin = twins.get((line.date, line.amount, line.currency_id, line.merchant.upper()))
        if twin is not None:
            findings.append(Finding("duplicate_line", CheckOutcome.SOFT, p,
                                    f"Same employee, date, amount and merchant as expense {twin}."))
    for j, receipt in enumerate(receipts):
        twin = Receipt.objects.filter(expense__in=others, sha256=receipt.sha256).select_related("expense").first()
        if twin is not None:
            findings.append(Finding("duplicate_receipt", CheckOutcome.SOFT, f"receipts.{j}",
                                    f"The same receipt file is on expense {twin.expense.public_id}."))
    failed = {f.code for f in findings}
    findings.extend(Finding(code, CheckOutcome.PASS) for code in CHECKS if code not in failed)
    return findings


def _twin_lines(expense, lines, unseen: Collection[int] = ()) -> dict:
    """``(date, amount, currency id, MERCHANT)`` → public id of the most recent other live
    expense of the same employee with such a line. Two queries whatever the number of lines
    or expenses: candidate lines by the (date, amount) index first, then their expenses — a
    join planned from the employee's expenses grew with every expense they had."""
    from controlplane.expenses.models import Expense, ExpenseLine

    if not lines:
        return {}
    wanted = {(line.date, line.amount, line.currency_id, line.merchant.upper()) for line in lines}
    candidates = (ExpenseLine.objects.filter(date__in={k[0] for k in wanted}, amount__in={k[1] for k in wanted})
                  .exclude(expense_id__in=[expense.pk, *unseen])
                  .values_list("expense_id", "date", "amount", "currency_id", "merchant"))
    by_expense: dict[int, set] = {}
    for expense_id, date, amount, currency_id, merchant in candidates:
        key = (date, amount, currency_id, merchant.upper())
        if key in wanted:
            by_expense.setdefault(expense_id, set()).add(key)
    if not by_expense:
        return {}
    twins: dict = {}
    others = (Expense.objects.filter(pk__in=by_expense, employee_id=expense.employee_id, approval_state__in=LIVE)
              .order_by("-created_at", "-pk").values_list("pk", "public_id"))
    for pk, public_id in others:
        for key in by_expense[pk]:
            twins.setdefault(key, public_id)
    return twins


def run_checks(expense, lines: list | None = None, unseen: Collection[int] = ()) -> list[Finding]:
    """Evaluate, raise :class:`ValidationFailed` on any hard finding (the caller's transaction
    then writes nothing), else store the results for this revision and set the flag.
    ``lines`` and ``unseen``: as for :func:`evaluate`."""
    from controlplane.expenses.models import PolicyCheckResult

    findings = evaluate(expense, lines, unseen)
    hard = [f for f in findings if f.outcome == CheckOutcome.HARD]
    if hard:
        raise ValidationFailed(
            "The expense fails policy checks.",
            [FieldProblem(f.field or f.code, f.code, f.message) for f in hard],
            code="policy_failed",
        )
    PolicyCheckResult.objects.filter(expense=expense, revision=expense.revision).delete()
    PolicyCheckResult.objects.bulk_create([
        PolicyCheckResult(expense=expense, revision=expense.revision, code=f.code, outcome=f.outcome,
                          field=f.field, message=f.message)
        for f in findings
    ])
    expense.policy_flagged = any(f.outcome == CheckOutcome.SOFT for f in findings)
    return findings
