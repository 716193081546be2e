"""The three state axes of an expense, as ``TextChoices`` with their groups.

Approval, ledger posting (Odoo) and reimbursement (payroll/bank) are owned by different
systems and finish in either order, so they are three fields rather than one long chain.
"""

from __future__ import annotations

from django.db import models


class ApprovalState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    MANAGER_APPROVED = "manager_approved", "Approved (all approval steps)"
    FINANCE_REVIEWED = "finance_reviewed", "Finance reviewed"
    RETURNED = "returned", "Returned to submitter"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    ARCHIVED = "archived", "Archived"


# The submitter may change content freely, nothing routed yet.
EDITABLE = (ApprovalState.DRAFT, ApprovalState.RETURNED)
# Waiting for approvers: a material amendment re-routes.
IN_APPROVAL = (ApprovalState.SUBMITTED, ApprovalState.MANAGER_APPROVED)
WITHDRAWABLE = (ApprovalState.DRAFT, ApprovalState.SUBMITTED, ApprovalState.RETURNED, ApprovalState.MANAGER_APPROVED)
TERMINAL = (ApprovalState.REJECTED, ApprovalState.WITHDRAWN, ApprovalState.ARCHIVED)
# Expenses that still count (duplicate detection, open work).
LIVE = tuple(s for s in ApprovalState if s not in (ApprovalState.REJECTED, ApprovalState.WITHDRAWN))


class PostingState(models.TextChoices):
    NOT_POSTED = "not_posted", "Not posted"
    POSTING = "posting", "Posting queued"
    POSTED = "posted", "Posted"


# Once a posting is queued its content is frozen: it may already be in flight to Odoo.
POSTING_STARTED = (PostingState.POSTING, PostingState.POSTED)


class PaymentState(models.TextChoices):
    UNPAID = "unpaid", "Unpaid"
    PAID = "paid", "Paid"


class CheckOutcome(models.TextChoices):
    PASS = "pass", "Pass"
    SOFT = "soft", "Soft (flag for approvers)"
    HARD = "hard", "Hard (refuses submission)"
