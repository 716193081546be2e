"""Batch posting of finance-reviewed expenses to Odoo, idempotent under retries.

    outcomes = post_expenses(client, postings, mode="expense")

Algorithm, for a batch:

1. validate each posting locally (a bad one becomes a ``PostingFailure``
   without costing a remote call);
2. find what Odoo already has for each reference (binder → our external ids
   → search by the reference, all in a handful of calls for the whole batch);
3. create only what is missing, in **one** ``create`` call; write our external
   ids (``controlplane.<ref>``) and bindings; attach receipts through
   ``message_post`` so Odoo copies them to the bill;
4. drive every document forward from the state Odoo reports (see
   :mod:`integrations.odoo.workflow`), each step one call for all documents
   in the same state, re-reading states after every step;
5. read back the result for each reference.

A permanent error on a batch call is isolated by bisection: the halves are
retried until the failing postings are alone, and they alone fail. A
retryable error (timeout, dropped connection, 503...) is raised for the whole
batch: the caller retries later, and step 2 finds what the interrupted attempt
committed, so nothing is created twice.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from integrations.errors import PermanentError
from integrations.odoo import mappers, workflow
from integrations.odoo.adapters import AttachmentAdapter, ModelAdapter
from integrations.odoo.binder import Binder
from integrations.odoo.client import OdooClient
from integrations.odoo.readback import (
    EXPENSE_FIELDS_17,
    EXPENSE_FIELDS_19,
    MOVE_FIELDS,
    Locator,
    expense_results_from_records,
    move_result,
)
from integrations.odoo.types import (
    ExpensePosting,
    OdooTax,
    PostingFailure,
    PostingMode,
    PostingOutcome,
    PostingResult,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# What Odoo says of each tax (price-included or not, rate), per client: read once with
# one search_read per batch for the taxes not known yet. A tax changed in Odoo later
# is still caught: the bill's total is checked before it is posted.
_TAXES: weakref.WeakKeyDictionary[OdooClient, dict[int, OdooTax]] = weakref.WeakKeyDictionary()
_TAXES_LOCK = threading.Lock()


def post_expenses(
    client: OdooClient,
    postings: Sequence[ExpensePosting],
    *,
    mode: PostingMode,
    binder: Binder | None = None,
    use_external_ids: bool = True,
) -> list[PostingOutcome]:
    """Post ``postings`` and return one outcome per posting, in the same order.

    Each outcome is a ``PostingResult`` (the document is in Odoo; ``posted``
    says whether the accounting entry is posted) or a ``PostingFailure``
    carrying a ``PermanentError`` for that posting alone. Raises
    ``RetryableError``/``UnknownOutcomeError`` when the batch should be
    retried as a whole, and ``PermanentError`` only for failures that are not
    about one posting (login refused, model missing).
    """
    return Poster(client, mode=mode, binder=binder, use_external_ids=use_external_ids).post(postings)


class Poster:
    def __init__(self, client: OdooClient, *, mode: PostingMode, binder: Binder | None = None,
                 use_external_ids: bool = True) -> None:
        if mode not in ("expense", "journal_entry"):
            raise ValueError(f"unknown posting mode {mode!r}")
        self.client = client
        self.mode = mode
        self.binder = binder
        self.locator = Locator(client, binder=binder, use_external_ids=use_external_ids)
        self.failures: dict[str, PermanentError] = {}

    # ------------------------------------------------------------------ driver

    def post(self, postings: Sequence[ExpensePosting]) -> list[PostingOutcome]:
        self.failures = {}
        valid = self._validate(postings)
        if valid:
            if self.mode == "expense":
                results = self._post_expenses(valid)
            else:
                results = self._post_moves(valid)
        else:
            results = {}
        outcomes: list[PostingOutcome] = []
        for posting in postings:
            if posting.ref in self.failures:
                outcomes.append(PostingFailure(posting.ref, self.failures[posting.ref]))
            elif posting.ref in results:
                outcomes.append(results[posting.ref])
            else:
                error = PermanentError("Odoo holds no document for this reference after posting",
                                       code="not_found")
                outcomes.append(PostingFailure(posting.ref, error))
        return outcomes

    def _validate(self, postings: Sequence[ExpensePosting]) -> list[ExpensePosting]:
        valid, seen = [], set()
        for posting in postings:
            problem = mappers.validate_posting(posting, self.mode)
            if problem is None and posting.ref in seen:
                problem = "the same reference appears twice in the batch"
            if problem is not None:
                self.failures[posting.ref] = PermanentError(problem, code="invalid")
                continue
            seen.add(posting.ref)
            valid.append(posting)
        return valid

    def fail(self, refs: Sequence[str], error: PermanentError) -> None:
        for ref in refs:
            self.failures.setdefault(ref, error)

    # ------------------------------------------------------------------ expense mode

    def _post_expenses(self, postings: list[ExpensePosting]) -> dict[str, PostingResult]:
        version = self.client.version()
        fields = EXPENSE_FIELDS_17 if version.has_expense_sheets else EXPENSE_FIELDS_19
        names = {name: p for p in postings for name in mappers.expense_names(p)}
        found = self.locator.find("hr.expense", names, fields)
        self._remember_found()
        missing = [p for p in postings if any(n not in found for n in mappers.expense_names(p))]
        amount_field = version.expense_amount_field

        def vals_for(p: ExpensePosting) -> list[dict[str, Any]]:
            all_vals = mappers.expense_vals(p, amount_field=amount_field)
            return [v for v in all_vals if v["name"] not in found]

        created = self._create("hr.expense", missing, vals_for)
        self._attach_receipts("hr.expense", postings, created, found)
        ids_by_ref: dict[str, list[int]] = {}
        for name, posting in names.items():
            odoo_id = created.get(name) or (found.get(name) or {}).get("id")
            if odoo_id and posting.ref not in self.failures:
                ids_by_ref.setdefault(posting.ref, []).append(odoo_id)
        active = [p for p in postings if p.ref in ids_by_ref]
        by_ref = workflow.ExpenseWorkflow(self, version).run(active, ids_by_ref)
        return expense_results_from_records(self.client, by_ref)

    # ------------------------------------------------------------------ journal-entry mode

    def _post_moves(self, postings: list[ExpensePosting]) -> dict[str, PostingResult]:
        refs = [p.ref for p in postings]
        found = self.locator.find("account.move", refs, MOVE_FIELDS, name_field="ref",
                                  domain=[("move_type", "=", "in_invoice")])
        self._remember_found()
        missing = [p for p in postings if p.ref not in found]
        partners = self._partners(missing)
        missing = [p for p in missing if p.ref not in self.failures]
        journals = self._purchase_journals(missing)
        taxes = self._taxes(missing)

        def vals_for(p: ExpensePosting) -> list[dict[str, Any]]:
            vals = mappers.move_vals(p, partners[p.ref], taxes)
            vals.setdefault("journal_id", journals.get(p.company_id))
            return [{k: v for k, v in vals.items() if v is not None}]

        created = self._create("account.move", missing, vals_for, name_key="ref")
        self._attach_receipts("account.move", postings, created, found, by_ref=True)
        ids_by_ref = {ref: created.get(ref) or found[ref]["id"] for ref in refs
                      if ref not in self.failures and (ref in created or ref in found)}
        moves = workflow.post_moves(self, ids_by_ref, {p.ref: p for p in postings})
        return {ref: move_result(ref, move) for ref, move in moves.items()}

    def _taxes(self, postings: list[ExpensePosting]) -> dict[int, OdooTax]:
        """The taxes the bills of ``postings`` use, as Odoo defines them (cached per client;
        one ``search_read`` for those not known yet, archived ones included)."""
        wanted = {t for p in postings for line in p.lines for t in line.tax_ids
                  if isinstance(t, int) and not isinstance(t, bool)}
        with _TAXES_LOCK:
            known = _TAXES.setdefault(self.client, {})
            todo = sorted(wanted - known.keys())
        if todo:
            fields = ["name", "amount", "amount_type", *self.client.version().tax_price_include_fields]
            rows = self.client.search_read("account.tax", [("id", "in", todo)], fields,
                                           context={"active_test": False})
            with _TAXES_LOCK:
                known.update({r["id"]: mappers.tax_from_odoo(r) for r in rows})
        return {t: known[t] for t in wanted if t in known}

    def _purchase_journals(self, postings: list[ExpensePosting]) -> dict[int | None, int]:
        """The first purchase journal per company, for bills that name none (as Odoo's
        form does; not every server fills it in on ``create``)."""
        journals: dict[int | None, int] = {}
        for company_id in {p.company_id for p in postings if not p.journal_id}:
            domain: list = [("type", "=", "purchase")]
            if company_id:
                domain.append(("company_id", "=", company_id))
            ids = ModelAdapter(self.client, "account.journal").search(domain, limit=1, order="sequence, id")
            if ids:
                journals[company_id] = ids[0]
        return journals

    def _partners(self, postings: list[ExpensePosting]) -> dict[str, int]:
        """The vendor of each bill: the posting's partner, else the employee's work contact."""
        partners = {p.ref: p.partner_id for p in postings if p.partner_id}
        need = [p for p in postings if not p.partner_id]
        if need:
            field = self.client.version().employee_partner_field
            rows = ModelAdapter(self.client, "hr.employee").read(
                sorted({p.employee_id for p in need}), [field])
            contact = {r["id"]: mappers.m2o_id(r.get(field)) for r in rows}
            for p in need:
                if contact.get(p.employee_id):
                    partners[p.ref] = contact[p.employee_id]
                else:
                    self.fail([p.ref], PermanentError(
                        f"employee {p.employee_id} has no partner in Odoo", code="invalid"))
        return partners

    # ------------------------------------------------------------------ shared steps

    def _create(self, model: str, postings: list[ExpensePosting],
                vals_for: Callable[[ExpensePosting], list[dict[str, Any]]],
                name_key: str = "name") -> dict[str, int]:
        """Create the records of ``postings`` in as few calls as possible; ``{name: id}``.

        The first call carries the whole batch; a permanent error splits it.
        External ids and bindings are written right after each successful call.
        """
        created: dict[str, int] = {}

        def create(batch: list[ExpensePosting]) -> None:
            vals_list = [v for p in batch for v in vals_for(p)]
            ids = ModelAdapter(self.client, model).create(vals_list)
            names = [v[name_key] for v in vals_list]
            created.update(zip(names, ids, strict=True))
            self._remember(model, list(zip(names, ids, strict=True)))

        self.isolate(postings, create, key=lambda p: p.ref)
        return created

    def _remember_found(self) -> None:
        """Documents an earlier attempt created but could not label (its answer was
        lost) get their external id and binding now."""
        pending, self.locator.unremembered = self.locator.unremembered, []
        for model in sorted({m for m, _, _ in pending}):
            self._remember(model, [(name, odoo_id) for m, name, odoo_id in pending if m == model])

    def _remember(self, model: str, pairs: list[tuple[str, int]]) -> None:
        """External ids first (visible to any worker), then our bindings."""
        if self.locator.use_external_ids and pairs:
            vals = [mappers.xmlid_vals(name, model, odoo_id) for name, odoo_id in pairs]
            try:
                ModelAdapter(self.client, "ir.model.data").create(vals)
            except PermanentError as exc:
                # Not allowed (or a race wrote them first): the reference field
                # still finds the documents, so posting goes on without them.
                logger.warning("external ids not written for %s: %s", model, exc.message)
                if exc.code == "AccessError":
                    self.locator.use_external_ids = False
        if self.binder is not None:
            for name, odoo_id in pairs:
                self.binder.bind(model, name, odoo_id)

    def _attach_receipts(self, model: str, postings: list[ExpensePosting], created: dict[str, int],
                         found: dict[str, dict[str, Any]], by_ref: bool = False) -> None:
        """Attach each posting's receipts to its first record, resumably.

        Attachments already there (by name) are not created again; records
        whose chatter has not received them yet (no main attachment) get a
        ``message_post(attachment_ids=...)``, which makes the first receipt the
        main attachment that Odoo copies to the bill it posts.
        """
        targets: dict[int, ExpensePosting] = {}
        for p in postings:
            if not p.receipts or p.ref in self.failures:
                continue
            first = p.ref if by_ref else mappers.expense_names(p)[0]
            record_id = created.get(first) or (found.get(first) or {}).get("id")
            if record_id and not _is_posted(found.get(first)):
                targets[record_id] = p
        if not targets:
            return
        attachments = AttachmentAdapter(self.client)
        present = attachments.on_records(model, list(targets))
        todo = [(rid, r) for rid, p in targets.items() for r in p.receipts
                if r.name not in present.get(rid, {})]
        new_ids = attachments.create([mappers.attachment_vals(r, model, rid) for rid, r in todo])
        for (rid, receipt), att_id in zip(todo, new_ids, strict=True):
            present.setdefault(rid, {})[receipt.name] = att_id
        main = {r["id"]: r.get("message_main_attachment_id")
                for r in ModelAdapter(self.client, model).read(list(targets), ["message_main_attachment_id"])}
        for rid, posting in targets.items():
            if main.get(rid):
                continue
            att_ids = [present[rid][r.name] for r in posting.receipts if r.name in present.get(rid, {})]
            self.client.call(model, "message_post", [rid], body="Receipts", attachment_ids=att_ids)

    # ------------------------------------------------------------------ isolation

    def isolate(self, items: list[T], call: Callable[[list[T]], Any], *,
                key: Callable[[T], str]) -> list[tuple[list[T], Any]]:
        """Run ``call`` on ``items`` at once; on ``PermanentError`` bisect until the
        failing items are alone, record their errors and go on with the rest.

        Returns ``(items, result)`` for every call that succeeded. Retryable
        errors propagate: the batch is retried as a whole.
        """
        if not items:
            return []
        try:
            return [(items, call(items))]
        except PermanentError as exc:
            if len(items) == 1:
                logger.info("posting %s refused by Odoo: %s", key(items[0]), exc)
                self.fail([key(items[0])], exc)
                return []
        middle = len(items) // 2
        return (self.isolate(items[:middle], call, key=key)
                + self.isolate(items[middle:], call, key=key))


def _is_posted(record: dict[str, Any] | None) -> bool:
    return bool(record) and record.get("state") in ("posted", "done", "paid", "in_payment")
