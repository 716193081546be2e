"""Drive Odoo documents through their workflow from whatever state they are in.

Each round reads the states of every document of the batch (one ``read``),
groups the documents by the step they need next, and calls each step once for
its whole group. Reading the state back, rather than trusting the answer of
the previous call, is what makes this safe to resume after a crash, a
timeout, a dropped answer or the XML-RPC "cannot marshal None" fault.

17/18 (with reports): draft expense → ``hr.expense.sheet`` created (one per
posting, named after its reference, all in one ``create``) →
``action_submit_sheet`` → ``action_approve_expense_sheets`` (the duplicate
wizard is confirmed) → ``action_sheet_move_create`` (18: then
``action_sheet_move_post`` for the draft moves approval created).

19: ``action_submit`` → ``action_approve`` (duplicate wizard confirmed) →
``action_post`` → ``hr.expense.post.wizard.action_post_entry`` with the
context ``action_post`` returned.

Journal entries: draft ``account.move`` → ``action_post``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from integrations.errors import PermanentError
from integrations.odoo import mappers
from integrations.odoo.adapters import ModelAdapter
from integrations.odoo.readback import (
    EXPENSE_FIELDS_17,
    EXPENSE_FIELDS_19,
    MOVE_FIELDS,
    SHEET_FIELDS,
    group_by_ref,
)
from integrations.odoo.types import ExpensePosting
from integrations.odoo.versions import OdooVersion

if TYPE_CHECKING:  # pragma: no cover
    from integrations.odoo.posting import Poster

logger = logging.getLogger(__name__)

MAX_ROUNDS = 8
DONE_19 = frozenset({"posted", "in_payment", "paid"})
DONE_SHEET = frozenset({"post", "done"})


class ExpenseWorkflow:
    """Moves the ``hr.expense`` records of a batch to posted."""

    def __init__(self, poster: Poster, version: OdooVersion) -> None:
        self.poster = poster
        self.client = poster.client
        self.version = version
        self.expenses = ModelAdapter(self.client, "hr.expense")
        self.sheets = ModelAdapter(self.client, "hr.expense.sheet")

    def run(self, postings: Sequence[ExpensePosting], ids_by_ref: dict[str, list[int]]) -> dict[str, list[dict]]:
        """Drive every posting as far as Odoo lets it; the final expense records by ref."""
        by_posting = {p.ref: p for p in postings}
        refs = [p.ref for p in postings if ids_by_ref.get(p.ref)]
        fields = EXPENSE_FIELDS_17 if self.version.has_expense_sheets else EXPENSE_FIELDS_19
        records: dict[str, list[dict]] = {}
        for _ in range(MAX_ROUNDS):
            refs = [r for r in refs if r not in self.poster.failures]
            ids = sorted({i for r in refs for i in ids_by_ref[r]})
            records = group_by_ref(self.expenses.read(ids, fields))
            if self.version.has_expense_sheets:
                plan, subjects = self._plan_with_sheets(records, refs)
            else:
                plan, subjects = self._plan_19(records, refs)
            if not plan:
                break
            for step, step_refs in plan.items():
                self._run_step(step, step_refs, subjects, by_posting)
        else:
            logger.warning("expense workflow still moving after %s rounds", MAX_ROUNDS)
        return {r: rs for r, rs in records.items() if r not in self.poster.failures}

    # ------------------------------------------------------------------ planning

    def _plan_with_sheets(self, records: dict[str, list[dict]], refs: list[str]):
        plan: dict[str, list[str]] = defaultdict(list)
        subjects: dict[str, list[int]] = {}
        sheet_ids = sorted({mappers.m2o_id(e.get("sheet_id")) for r in refs for e in records.get(r, [])} - {None})
        sheets = {s["id"]: s for s in self.sheets.read(sheet_ids, SHEET_FIELDS)}
        for ref in refs:
            expenses = records.get(ref, [])
            if not expenses:
                continue
            if any(e["state"] == "refused" for e in expenses):
                self._refused(ref)
                continue
            loose = [e["id"] for e in expenses if not mappers.m2o_id(e.get("sheet_id"))]
            if loose:
                plan["make_sheet"].append(ref)
                subjects[ref] = loose
                continue
            sheet = sheets.get(mappers.m2o_id(expenses[0]["sheet_id"]))
            if sheet is None:
                continue
            step = {"draft": "submit_sheet", "submit": "approve_sheet", "approve": "move_create"}.get(sheet["state"])
            if sheet["state"] == "cancel":
                self._refused(ref)
            elif step == "move_create" and self.version.approve_creates_draft_moves and sheet["account_move_ids"]:
                plan["move_post_18"].append(ref)
            elif step:
                plan[step].append(ref)
            subjects[ref] = [sheet["id"]]
        return plan, subjects

    def _plan_19(self, records: dict[str, list[dict]], refs: list[str]):
        plan: dict[str, list[str]] = defaultdict(list)
        subjects: dict[str, list[int]] = {}
        steps = {"draft": "submit", "submitted": "approve", "approved": "post"}
        for ref in refs:
            expenses = records.get(ref, [])
            if any(e["state"] == "refused" for e in expenses):
                self._refused(ref)
                continue
            pending = [e for e in expenses if e["state"] not in DONE_19]
            if not pending:
                continue
            order = list(steps)
            state = min((e["state"] for e in pending), key=lambda s: order.index(s) if s in order else -1)
            if state not in steps:
                self.poster.fail([ref], PermanentError(f"unexpected expense state {state!r}", code="state"))
                continue
            plan[steps[state]].append(ref)
            subjects[ref] = [e["id"] for e in pending if e["state"] == state]
        return plan, subjects

    def _refused(self, ref: str) -> None:
        self.poster.fail([ref], PermanentError("the expense was refused in Odoo", code="refused"))

    # ------------------------------------------------------------------ steps

    def _run_step(self, step: str, refs: list[str], subjects: dict[str, list[int]],
                  by_posting: dict[str, ExpensePosting]) -> None:
        def ids(batch: list[str]) -> list[int]:
            return sorted({i for r in batch for i in subjects[r]})

        calls = {
            "make_sheet": lambda batch: self.sheets.create(
                [mappers.sheet_vals(by_posting[r], subjects[r]) for r in batch]),
            "submit_sheet": lambda batch: self.sheets.button("action_submit_sheet", ids(batch)),
            "approve_sheet": lambda batch: self._follow(
                self.sheets.button("action_approve_expense_sheets", ids(batch))),
            "move_create": lambda batch: self.sheets.button("action_sheet_move_create", ids(batch)),
            "move_post_18": lambda batch: self.sheets.button("action_sheet_move_post", ids(batch)),
            "submit": lambda batch: self.expenses.button("action_submit", ids(batch)),
            "approve": lambda batch: self._follow(self.expenses.button("action_approve", ids(batch))),
            "post": lambda batch: self._follow(self.expenses.button("action_post", ids(batch))),
        }
        self.poster.isolate(refs, calls[step], key=lambda r: r)

    def _follow(self, action: Any) -> Any:
        """Complete the wizard an action opened, when it is one we must confirm."""
        if not isinstance(action, dict):
            return action
        model = action.get("res_model")
        context = action.get("context") if isinstance(action.get("context"), dict) else {}
        if model == "hr.expense.approve.duplicate":
            # Odoo approves nothing until the duplicate warning is confirmed.
            return self._wizard(model, action, context, "action_approve")
        if model == "hr.expense.post.wizard":
            # 19.0 needs the context action_post returned (active_ids alone fails).
            return self._wizard(model, action, context, "action_post_entry")
        return action

    def _wizard(self, model: str, action: dict, context: dict, method: str) -> Any:
        wizard_id = action.get("res_id")
        if not wizard_id:
            [wizard_id] = self.client.create(model, [{}], context=context)
        return self.client.call(model, method, [wizard_id], context=context)


def post_moves(poster: Poster, ids_by_ref: dict[str, int],
               postings: Mapping[str, ExpensePosting] | None = None) -> dict[str, dict]:
    """Post the draft bills; the final ``account.move`` records by ref.

    A draft whose ``amount_total`` is not its posting's tax-included total is
    not posted (Odoo would book a wrong amount): its posting fails alone with
    code ``tax_rounding`` (a cent per line, from a non-included tax computed on
    a rounded untaxed price) or ``amount_mismatch``; the draft stays in Odoo.
    """
    moves = ModelAdapter(poster.client, "account.move")
    refs = list(ids_by_ref)
    by_ref: dict[str, dict] = {}
    for _ in range(MAX_ROUNDS):
        refs = [r for r in refs if r not in poster.failures]
        rows = {m["id"]: m for m in moves.read(sorted(ids_by_ref[r] for r in refs), MOVE_FIELDS)}
        by_ref = {r: rows[ids_by_ref[r]] for r in refs if ids_by_ref[r] in rows}
        for ref in [r for r, m in by_ref.items() if m["state"] == "draft" and postings and r in postings]:
            problem = mappers.bill_total_problem(postings[ref], by_ref[ref].get("amount_total"))
            if problem:
                code = "tax_rounding" if problem.startswith("tax rounding") else "amount_mismatch"
                logger.warning("bill %s of %s not posted: %s", ids_by_ref[ref], ref, problem)
                poster.fail([ref], PermanentError(problem, code=code))
        draft = [r for r, m in by_ref.items() if m["state"] == "draft" and r not in poster.failures]
        for ref in [r for r, m in by_ref.items() if m["state"] == "cancel"]:
            poster.fail([ref], PermanentError("the bill was cancelled in Odoo", code="cancelled"))
        if not draft:
            break
        poster.isolate(draft, lambda batch: moves.button("action_post", [ids_by_ref[r] for r in batch]),
                       key=lambda r: r)
    return {r: m for r, m in by_ref.items() if r not in poster.failures}
