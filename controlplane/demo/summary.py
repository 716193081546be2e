"""What the demo ends with: counts from the control plane's database, postings counted in Odoo
by reference, and the expenses the API accepted that ended in no known state (``lost``).

Known states, for an expense the platform created: it exists, its approval state is one of the
lifecycle's, and once finance reviewed it is posted or has its posting job (pending, retrying,
or dead with an exception for a person). Anything else is lost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

from controlplane.connections.models import ExternalSystem
from controlplane.exceptions.models import ExceptionRecord, ExceptionStatus
from controlplane.expenses.models import Expense
from controlplane.expenses.states import ApprovalState, PaymentState, PostingState
from controlplane.odoo.connection import odoo_client
from controlplane.sync.models import JobState, OutboxJob

POST = "odoo.post_expense"
APPROVED = (ApprovalState.MANAGER_APPROVED, ApprovalState.FINANCE_REVIEWED, ApprovalState.ARCHIVED)


def posting_progress() -> dict[str, int]:
    """Finance-reviewed expenses by where their posting stands: posted, failed (job dead or
    cancelled), waiting (job pending / retrying / in flight)."""
    queued = Expense.objects.filter(posting_state__in=(PostingState.POSTING, PostingState.POSTED))
    posted = queued.filter(posting_state=PostingState.POSTED).count()
    jobs = Counter(OutboxJob.objects.filter(operation=POST).exclude(state=JobState.SUCCEEDED)
                   .values_list("state", flat=True))
    failed = jobs[JobState.DEAD] + jobs[JobState.CANCELLED]
    return {"queued": queued.count(), "posted": posted, "failed": failed, "waiting": queued.count() - posted - failed}


def wait_postings(*, timeout: float, log=print, poll: float = 2.0) -> dict[str, int]:
    """Wait until no finance-reviewed expense waits for its posting (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        progress = posting_progress()
        if progress != last:
            log(f"postings: {progress}")
            last = progress
        if progress["waiting"] <= 0 or time.monotonic() > deadline:
            return progress
        time.sleep(poll)


def odoo_counts(system: ExternalSystem, references: Iterable[str]) -> dict[str, int]:
    """Documents in Odoo carrying our references (search_read over the system's protocol):
    ``odoo_documents`` — references with at least one journal entry; ``duplicate_postings`` —
    extra entries, expense reports or expenses carrying a reference that should have one."""
    refs = sorted(set(references))
    if not refs:
        return {"odoo_documents": 0, "duplicate_postings": 0}
    client = odoo_client(system)
    moves: Counter = Counter()
    sheets: Counter = Counter()
    expenses: Counter = Counter()
    for start in range(0, len(refs), 200):
        chunk = refs[start:start + 200]
        # payment entries carry the paid bill's reference as their memo: not postings
        domain = [("ref", "in", chunk), ("state", "!=", "cancel"), ("move_type", "!=", "entry")]
        for row in client.search_read("account.move", domain, ["ref"]):
            moves[row["ref"]] += 1
        if client.version().major < 19:
            for row in client.search_read("hr.expense.sheet", [("name", "in", chunk)], ["name"]):
                sheets[row["name"]] += 1
    wanted = set(refs)
    for row in client.search_read("hr.expense", [("name", "=like", "CP-%")], ["name"]):
        if row["name"].split("/", 1)[0] in wanted:
            expenses[row["name"]] += 1
    duplicates = sum(n - 1 for c in (moves, sheets, expenses) for n in c.values() if n > 1)
    return {"odoo_documents": len(moves), "duplicate_postings": duplicates}


def lost_expenses(tracked: Iterable) -> list[str]:
    """Source ids the API accepted (it answered an id) that are in no known state now."""
    accepted = {t.public_id: t for t in tracked if t.public_id}
    rows = {str(pid): (state, posting, payment, pk) for pid, state, posting, payment, pk in
            Expense.objects.filter(public_id__in=list(accepted)).values_list(
                "public_id", "approval_state", "posting_state", "payment_state", "pk")}
    jobs = {job.object_id: job.state for job in OutboxJob.objects.filter(operation=POST)}
    lost = []
    for public_id, t in accepted.items():
        row = rows.get(public_id)
        if row is None or row[0] not in ApprovalState.values:
            lost.append(t.source_id)
            continue
        state, posting, _payment, pk = row
        if t.state == "finance_reviewed" and state not in (ApprovalState.FINANCE_REVIEWED, ApprovalState.ARCHIVED):
            lost.append(t.source_id)  # the API said reviewed; the database forgot it
        elif posting == PostingState.POSTING and str(pk) not in jobs:
            lost.append(t.source_id)  # queued for posting with no job to post it
        elif t.payment_state == "paid" and _payment != PaymentState.PAID:
            lost.append(t.source_id)
    return lost


def summary(*, tracked: list, system: ExternalSystem, elapsed_s: float, extra: dict | None = None) -> dict:
    """The demo's last line."""
    ids = [t.public_id for t in tracked if t.public_id]
    mine = Expense.objects.filter(public_id__in=ids)
    refs = list(mine.filter(posting_state__in=(PostingState.POSTING, PostingState.POSTED))
                .values_list("posting_revision", "public_id", "revision"))
    references = [Expense(public_id=pid, revision=rev, posting_revision=prev).posting_reference
                  for prev, pid, rev in refs]
    odoo = odoo_counts(system, references)
    states = Counter(mine.values_list("approval_state", flat=True))
    return {
        "expenses_submitted": sum(1 for t in tracked if t.submitted),
        "approved": mine.filter(approval_state__in=APPROVED).count(),
        "rejected": states[ApprovalState.REJECTED],
        "posted": mine.filter(posting_state=PostingState.POSTED).count(),
        "reimbursed": mine.filter(payment_state=PaymentState.PAID).count(),
        "exceptions_open": ExceptionRecord.objects.filter(status__in=ExceptionStatus.active()).count(),
        "odoo_documents": odoo["odoo_documents"],
        "duplicate_postings": odoo["duplicate_postings"],
        "lost": len(lost_expenses(tracked)),
        "elapsed_s": round(elapsed_s, 1),
        "withdrawn": states[ApprovalState.WITHDRAWN],
        "refused_on_submit": sum(1 for t in tracked if t.public_id and not t.submitted),
        "posting_failed": posting_progress()["failed"],
        **(extra or {}),
    }
