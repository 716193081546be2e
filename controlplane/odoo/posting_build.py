"""Build the connector's ``ExpensePosting`` from an expense, its lines, allocations and receipts.

Every Odoo id comes from a binding: employee (``hr.employee``, exported first when missing),
category (``product.product``), tax code (``account.tax``), analytic account
(``account.analytic.account``), currency (``res.currency``, looked up by ISO code and bound
when missing) and the entity's company (``res.company``, optional). A missing one raises
:class:`MissingMapping`, which names what a person has to map.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models

from controlplane.connections.models import Binding, ExternalSystem
from controlplane.connections.services import binding_upsert
from controlplane.core.actors import Actor
from controlplane.masterdata import models as md
from controlplane.odoo.exports import odoo_export_employees
from integrations.odoo.client import OdooClient
from integrations.odoo.types import ExpensePosting, PostingLine, Receipt

BOUND_MODELS = ("hr.employee", "product.product", "account.tax", "account.analytic.account", "res.currency",
                "res.company")


class MissingMapping(Exception):
    """Something the posting needs has no Odoo counterpart yet."""

    def __init__(self, message: str, *, dedupe_key: str, subject: models.Model | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.dedupe_key = dedupe_key
        self.subject = subject


class PostingBuilder:
    """Builds postings for one Odoo system; bindings are read once per batch."""

    def __init__(self, *, actor: Actor, system: ExternalSystem, client: OdooClient) -> None:
        self.actor = actor
        self.system = system
        self.client = client
        self.export_errors: dict[int, str] = {}
        self._load()

    def _load(self) -> None:
        self.ids: dict[tuple[str, int, str], int] = {}
        self.data: dict[tuple[str, int, str], dict] = {}
        rows = Binding.objects.filter(system=self.system, external_model__in=BOUND_MODELS).values_list(
            "external_model", "content_type_id", "object_id", "external_id", "data")
        for model, ct, object_id, external_id, data in rows:
            self.ids[(model, ct, object_id)] = int(external_id)
            self.data[(model, ct, object_id)] = data or {}

    def _key(self, odoo_model: str, record: models.Model) -> tuple[str, int, str]:
        return (odoo_model, ContentType.objects.get_for_model(record).pk, str(record.pk))

    def bound(self, odoo_model: str, record: models.Model | None) -> int | None:
        return None if record is None else self.ids.get(self._key(odoo_model, record))

    # ------------------------------------------------------------------ batch preparation

    def prepare(self, expenses: Iterable) -> None:
        """Export the employees Odoo lacks and bind currencies by ISO code, once per batch."""
        expenses = list(expenses)
        unbound = {e.employee_id: e.employee for e in expenses if self.bound("hr.employee", e.employee) is None}
        if unbound:
            outcomes = odoo_export_employees(actor=self.actor, system=self.system, employees=unbound.values(),
                                             client=self.client)
            for outcome in outcomes:
                if outcome.error:
                    self.export_errors[outcome.employee_id] = outcome.error
        currencies = {e.currency.code: e.currency for e in expenses if self.bound("res.currency", e.currency) is None}
        if currencies:
            rows = self.client.search_read("res.currency", [("name", "in", sorted(currencies)),
                                                            ("active", "in", [True, False])], ["name"])
            for row in rows:
                if row["name"] in currencies:
                    binding_upsert(actor=self.actor, system=self.system, record=currencies[row["name"]],
                                   external_model="res.currency", external_id=row["id"])
        if unbound or currencies:
            self._load()

    # ------------------------------------------------------------------ one expense

    def build(self, expense, *, mode: str) -> ExpensePosting:
        """The posting of ``expense``'s posting revision; raises :class:`MissingMapping`."""
        system = self.system.code
        employee_id = self.bound("hr.employee", expense.employee)
        if employee_id is None:
            why = self.export_errors.get(expense.employee_id, "not exported")
            raise MissingMapping(f"Employee {expense.employee.code} has no Odoo employee ({why}).",
                                 dedupe_key=f"odoo:{system}:missing:employee:{expense.employee_id}",
                                 subject=expense.employee)
        currency_id = self.bound("res.currency", expense.currency)
        if currency_id is None:
            raise MissingMapping(f"Currency {expense.currency.code} is not active in Odoo.",
                                 dedupe_key=f"odoo:{system}:missing:currency:{expense.currency.code}",
                                 subject=expense.currency)
        lines = [self._line(expense, line) for line in expense.lines.all()]
        if not lines:
            raise MissingMapping("The expense has no lines to post.", dedupe_key=f"odoo:{system}:empty:{expense.pk}",
                                 subject=expense)
        company = self._key("res.company", expense.legal_entity)
        journal_id = (self.data.get(company) or {}).get("purchase_journal_id") if mode == "journal_entry" else None
        return ExpensePosting(
            ref=expense.posting_reference, employee_id=employee_id, product_id=lines[0].product_id,
            currency_id=currency_id, date=min(line.date for line in expense.lines.all()),
            description=expense.purpose or expense.posting_reference, lines=tuple(lines),
            receipts=tuple(self._receipt(r) for r in expense.receipts.all()),
            company_id=self.ids.get(company), journal_id=journal_id,
        )

    def _line(self, expense, line) -> PostingLine:
        system = self.system.code
        product_id = self.bound("product.product", line.category)
        if product_id is None:
            raise MissingMapping(
                f"Category {line.category.code} has no Odoo product (import expense products or bind it).",
                dedupe_key=f"odoo:{system}:missing:category:{line.category_id}", subject=line.category)
        tax_ids: tuple[int, ...] = ()
        price_include = False
        if line.tax_code_id:
            price_include = bool(self.data.get(self._key("account.tax", line.tax_code), {}).get("price_include"))
            tax_id = self.bound("account.tax", line.tax_code)
            if tax_id is None:
                raise MissingMapping(f"Tax code {line.tax_code.code} has no Odoo tax.",
                                     dedupe_key=f"odoo:{system}:missing:tax:{line.tax_code_id}", subject=line.tax_code)
            tax_ids = (tax_id,)
        distribution: dict[str, float] = defaultdict(float)
        for allocation in line.allocations.all():
            account = _analytic_of(allocation)
            if account is None:
                continue
            analytic_id = self.bound("account.analytic.account", account)
            if analytic_id is None:
                raise MissingMapping(f"Analytic account {account.code} has no Odoo counterpart.",
                                     dedupe_key=f"odoo:{system}:missing:analytic:{account.pk}", subject=account)
            distribution[str(analytic_id)] += float(allocation.percent)
        gross = line.total or line.amount
        # A bill's unit price is net of a tax Odoo adds on top; gross when Odoo's tax is included.
        untaxed = (line.net_amount if tax_ids and not price_include and line.net_amount and line.net_amount < gross
                   else None)
        return PostingLine(amount=Decimal(gross), description=(line.description or line.merchant or "")[:255],
                           tax_ids=tax_ids, analytic_distribution=dict(distribution),
                           untaxed_amount=untaxed, product_id=product_id)

    @staticmethod
    def _receipt(receipt) -> Receipt:
        with receipt.file.open("rb") as fh:
            data = fh.read()
        name = receipt.original_name or f"{receipt.sha256[:12]}"
        return Receipt(name=name, mimetype=receipt.content_type or "application/octet-stream",
                       data_b64=base64.b64encode(data).decode())


def _analytic_of(allocation) -> md.AnalyticAccount | None:
    if allocation.analytic_account_id:
        return allocation.analytic_account
    if allocation.project_id and allocation.project.analytic_account_id:
        return allocation.project.analytic_account
    if allocation.cost_centre_id and allocation.cost_centre.analytic_account_id:
        return allocation.cost_centre.analytic_account
    return None
