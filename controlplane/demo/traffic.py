"""The external world of the demo, over the public API only: an expense platform that submits,
amends and withdraws expenses with receipts, the approvers deciding their pending steps, the
finance reviewers, and payroll reporting reimbursements.

    traffic = Traffic(platform=ApiClient(url, token), payroll=ApiClient(url, token2), org=org, count=300)
    traffic.submit_all(); traffic.amend_and_withdraw(); traffic.approve_until_done()
    traffic.finance_review_all(); traffic.pay(share=0.5)

Planted problems (when ``count`` >= 16): a duplicate receipt, a category without an Odoo
product (missing mapping at posting), an amount over the category cap, a self-approval
attempt and a future date (refused at submission). Nothing here imports Django.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from controlplane.demo.client import Answer, ApiClient

CATEGORIES = (("MEALS", 40, 12, 140), ("TRAVEL", 35, 80, 1400), ("OFFICE", 25, 15, 280))
MERCHANTS = ("Blue Bottle", "Hilton", "Staples", "Uber", "Lufthansa", "SNCF", "Monoprix", "Delta", "Pret")
PLANTED = {3: "duplicate_receipt_source", 5: "duplicate_receipt", 7: "missing_mapping", 9: "over_cap",
           11: "self_approval", 13: "future_date"}


@dataclass
class EntityInfo:
    """What the platform knows about one legal entity."""

    code: str
    currency: str
    submitters: tuple[str, ...]
    approvers: tuple[str, ...]
    finance: str
    project: str | None = None  # a project to allocate to (its analytic account is known to Odoo)
    send_tax: bool = True  # False: lines go without tax (the entity's tax has no Odoo counterpart)


@dataclass
class Tracked:
    """One expense as the platform saw it: what the API accepted and the last state it answered."""

    source_id: str
    entity: str
    employee: str
    plan: str = ""
    public_id: str | None = None
    state: str | None = None
    posting_state: str | None = None
    payment_state: str | None = None
    submitted: bool = False
    returned_once: bool = False
    receipt: bytes = b""
    lines: list = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def saw(self, answer: Answer) -> None:
        if answer.ok and isinstance(answer.body, dict) and "approval_state" in answer.body:
            self.public_id = answer.body.get("id") or self.public_id
            self.state = answer.body["approval_state"]
            self.posting_state = answer.body.get("posting_state")
            self.payment_state = answer.body.get("payment_state")


class Traffic:
    def __init__(self, *, platform: ApiClient, payroll: ApiClient, org: dict[str, EntityInfo], count: int,
                 seed: int = 7, clients: int = 6, run_id: str = "demo", log=print) -> None:
        self.platform, self.payroll, self.org = platform, payroll, org
        self.count, self.clients, self.log = count, clients, log
        self.rng = random.Random(seed)
        self.run_id = run_id
        self.today = dt.date.today()
        self.stats: Counter = Counter()
        self._lock = threading.Lock()
        self.expenses: list[Tracked] = []
        self.by_id: dict[str, Tracked] = {}

    # ------------------------------------------------------------------ helpers
    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.stats[what] += n

    def _pool(self, fn, items) -> None:
        with ThreadPoolExecutor(max_workers=self.clients) as pool:
            for _ in pool.map(fn, items):
                pass

    def _lines(self, rng: random.Random, info: EntityInfo, plan: str) -> list[dict]:
        lines = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            code, _w, low, high = rng.choices(CATEGORIES, weights=[c[1] for c in CATEGORIES])[0]
            amount = Decimal(rng.randint(low * 100, high * 100)) / 100
            line = {"date": (self.today - dt.timedelta(days=rng.randint(1, 40))).isoformat(), "category": code,
                    "merchant": f"{rng.choice(MERCHANTS)} #{rng.randint(1, 99999)}", "amount": str(amount),
                    "description": f"{code.lower()} for a customer visit"}
            if not info.send_tax:
                line["tax_code"] = ""
            if info.project and rng.random() < 0.3:
                line["allocations"] = [{"project": info.project, "percent": "100"}]
            lines.append(line)
        if rng.random() < 0.03:  # a large trip: the CEO approves too
            lines[0].update(category="TRAVEL", amount=str(Decimal(rng.randint(210000, 240000)) / 100))
        if plan == "missing_mapping":
            lines = [{**lines[0], "category": "LODGING", "amount": "180.00"}]
        elif plan == "over_cap":
            lines = [{**lines[0], "category": "MEALS", "amount": "480.00"}]
        elif plan == "future_date":
            lines[0]["date"] = (self.today + dt.timedelta(days=5)).isoformat()
        return lines

    # ------------------------------------------------------------------ the platform
    def submit_all(self) -> None:
        """Create every expense (with a receipt) and submit it."""
        plans = [PLANTED.get(i, "") if self.count >= 16 else "" for i in range(self.count)]
        for i, plan in enumerate(plans):
            rng = random.Random(self.rng.random())
            entity = self.org["US01"] if plan in ("missing_mapping", "over_cap", "self_approval") else (
                self.org["US01"] if rng.random() < 0.7 or "FR01" not in self.org else self.org["FR01"])
            employee = entity.submitters[-1] if plan == "self_approval" else rng.choice(entity.submitters)
            t = Tracked(source_id=f"{self.run_id}-{i:05d}", entity=entity.code, employee=employee, plan=plan)
            t.receipt = f"%PDF-1.4 receipt {t.source_id} {rng.random()}\n".encode()
            if plan == "duplicate_receipt":
                t.receipt = self.expenses[3].receipt
            if not plan:
                r = rng.random()
                t.plan = "amend" if r < 0.08 else "withdraw" if r < 0.12 else "return" if r < 0.18 else \
                    "reject" if r < 0.21 else ""
            t.lines = self._lines(rng, entity, plan)
            self.expenses.append(t)
        self._pool(self._submit_one, self.expenses)
        self.log(f"platform: {self.stats['created']} created, {self.stats['submitted']} submitted, "
                 f"{self.stats['refused_on_submit']} refused on submission")

    def _submit_one(self, t: Tracked) -> None:
        info = self.org[t.entity]
        body = {"source_id": t.source_id, "legal_entity": t.entity, "employee": t.employee,
                "currency": info.currency, "purpose": f"Customer visit {t.source_id}", "lines": t.lines}
        created = self.platform.post("expenses/", body)
        t.saw(created)
        if not created.ok:
            self._count("create_failed")
            t.events.append(f"create {created.status}: {created.body}")
            return
        self._count("created")
        with self._lock:
            self.by_id[t.public_id] = t
        receipt = self.platform.post(f"expenses/{t.public_id}/receipts/",
                                     files={"file": (f"{t.source_id}.pdf", t.receipt, "application/pdf")})
        self._count("receipts" if receipt.ok else "receipt_failed")
        submitted = self.platform.post(f"expenses/{t.public_id}/submit/")
        t.saw(submitted)
        if submitted.ok:
            t.submitted = True
            self._count("submitted")
        else:
            self._count("refused_on_submit")
            t.events.append(f"submit {submitted.status}: {submitted.body}")

    def amend_and_withdraw(self) -> None:
        """Amend some submitted expenses (a new revision, re-routed), withdraw a few, and let the
        self-approval attempt be refused."""
        self._pool(self._amend_or_withdraw, [t for t in self.expenses if t.state == "submitted"])
        self.log(f"platform: {self.stats['amended']} amended, {self.stats['withdrawn']} withdrawn; "
                 f"self-approval refused {self.stats['self_approval_refused']}x")

    def _amend(self, t: Tracked, why: str) -> Answer:
        detail = self.platform.get(f"expenses/{t.public_id}/")
        lines = [{k: line[k] for k in ("date", "category", "merchant", "description", "amount", "tax_code")
                  if line.get(k) is not None} for line in detail.body["lines"]]
        if not self.org[t.entity].send_tax:
            for line in lines:
                line["tax_code"] = ""
        lines[0]["amount"] = str((Decimal(lines[0]["amount"]) * Decimal("0.9")).quantize(Decimal("0.01")))
        answer = self.platform.patch(f"expenses/{t.public_id}/", {"lines": lines, "purpose": f"{why}: {t.source_id}"})
        t.saw(answer)
        return answer

    def _amend_or_withdraw(self, t: Tracked) -> None:
        if t.plan == "amend":
            answer = self._amend(t, "amended")
            self._count("amended" if answer.ok else "amend_failed")
        elif t.plan == "withdraw":
            answer = self.platform.post(f"expenses/{t.public_id}/withdraw/", {"reason": "booked twice by mistake"})
            t.saw(answer)
            self._count("withdrawn" if answer.ok else "withdraw_failed")
        elif t.plan == "self_approval":
            answer = self.platform.post(f"expenses/{t.public_id}/decision/",
                                        {"approver": t.employee, "decision": "approve", "comment": "my own"})
            self._count("self_approval_refused" if answer.status == 403 else "self_approval_not_refused")

    # ------------------------------------------------------------------ approvers
    def approve_until_done(self, max_rounds: int = 12) -> None:
        """Every approver takes the steps waiting for them and decides; returned expenses are
        amended and resubmitted by the platform; repeat until nothing waits."""
        for _ in range(max_rounds):
            pending = []
            for info in self.org.values():
                for approver in info.approvers:
                    page = self.platform.get("approvals/pending/", approver=approver, legal_entity=info.code,
                                             page_size=200)
                    if page.ok:
                        pending += [(approver, item) for item in page.body["results"]]
            if not pending:
                break
            self._pool(self._decide, pending)
        self.log(f"approvers: {self.stats['approve']} approvals, {self.stats['return']} returns, "
                 f"{self.stats['reject']} rejections ({self.stats['decision_failed']} refused)")

    def _decide(self, job: tuple[str, dict]) -> None:
        approver, item = job
        t = self.by_id.get(item["expense"]["id"])
        if t is None:
            return
        if item["expense"].get("policy_flagged"):
            decision, comment = "reject", "policy flags (duplicate receipt / over the cap)"
        elif t.plan == "return" and not t.returned_once:
            decision, comment = "return", "please split the taxi fares"
        elif t.plan == "reject":
            decision, comment = "reject", "not a business expense"
        else:
            decision, comment = "approve", ""
        answer = self.platform.post(f"expenses/{t.public_id}/decision/",
                                    {"approver": approver, "decision": decision, "comment": comment})
        t.saw(answer)
        if not answer.ok:
            self._count("decision_failed")
            t.events.append(f"decision {answer.status}: {answer.body}")
            return
        self._count(decision)
        if decision == "return":
            t.returned_once = True
            amended = self._amend(t, "split as asked")
            resubmitted = self.platform.post(f"expenses/{t.public_id}/submit/")
            t.saw(resubmitted)
            self._count("resubmitted" if amended.ok and resubmitted.ok else "resubmit_failed")

    # ------------------------------------------------------------------ finance and payroll
    def finance_review_all(self) -> None:
        todo = [t for t in self.expenses if t.state == "manager_approved"]
        self._pool(self._review, todo)
        self.log(f"finance: {self.stats['finance_reviewed']} reviewed ({self.stats['review_failed']} refused)")

    def _review(self, t: Tracked) -> None:
        answer = self.platform.post(f"expenses/{t.public_id}/finance-review/",
                                    {"reviewer": self.org[t.entity].finance, "comment": "receipts checked"})
        t.saw(answer)
        self._count("finance_reviewed" if answer.ok else "review_failed")

    def pay(self, *, share: float) -> int:
        """Payroll reports ``share`` of the finance-reviewed, unpaid expenses as reimbursed."""
        todo = [t for t in self.expenses if t.state == "finance_reviewed" and t.payment_state != "paid"]
        picked = [t for t in todo if int(hashlib.sha1(t.source_id.encode()).hexdigest(), 16) % 100 < share * 100]
        self._pool(self._pay, picked)
        return len(picked)

    def _pay(self, t: Tracked) -> None:
        answer = self.payroll.post(f"expenses/{t.public_id}/payment/", {"payment_ref": f"PAY-{t.source_id}"})
        t.saw(answer)
        self._count("reimbursed" if answer.ok else "payment_failed")
