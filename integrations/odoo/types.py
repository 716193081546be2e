"""Small frozen dataclasses exchanged between the Odoo connector and the Django side.

Ids named ``*_id`` are Odoo ids (``int``) unless said otherwise; amounts are
``Decimal``; dates are ``datetime.date``; ``write_date`` is a naive UTC
``datetime`` as Odoo stores it. Nothing here is a Django model.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from integrations.errors import IntegrationError

PostingMode = Literal["expense", "journal_entry"]
PaymentMode = Literal["own_account", "company_account"]

# References end up in Odoo names, refs and external ids (module.name): keep
# them to characters that are safe everywhere, and short.
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,62}$")


# --------------------------------------------------------------------------- master data


@dataclass(frozen=True)
class OdooCompany:
    odoo_id: int
    name: str
    currency_id: int | None
    currency_code: str
    country_code: str = ""
    partner_id: int | None = None
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooCurrency:
    odoo_id: int
    code: str  # ISO 4217, e.g. "EUR"
    name: str = ""
    symbol: str = ""
    active: bool = True
    rate: Decimal | None = None  # units per company-currency unit, as Odoo keeps it
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooCurrencyRate:
    odoo_id: int
    currency_id: int
    currency_code: str
    date: dt.date
    rate: Decimal  # units of the currency per unit of the company currency
    company_id: int | None = None
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooAccount:
    odoo_id: int
    code: str
    name: str
    account_type: str
    company_ids: tuple[int, ...] = ()
    currency_id: int | None = None
    active: bool = True
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooTax:
    odoo_id: int
    name: str
    amount: Decimal
    amount_type: str  # percent | fixed | division | group
    type_tax_use: str  # purchase | sale | none
    price_include: bool = False
    company_id: int | None = None
    active: bool = True
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooJournal:
    odoo_id: int
    code: str
    name: str
    type: str
    company_id: int | None = None
    currency_id: int | None = None
    active: bool = True
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooAnalyticAccount:
    odoo_id: int
    name: str
    code: str = ""
    plan_id: int | None = None
    company_id: int | None = None
    active: bool = True
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooProduct:
    """An expense category (``product.product`` with ``can_be_expensed``)."""

    odoo_id: int
    name: str
    default_code: str = ""
    can_be_expensed: bool = True
    standard_price: Decimal = Decimal("0")
    supplier_tax_ids: tuple[int, ...] = ()
    expense_account_id: int | None = None
    company_id: int | None = None
    active: bool = True
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooDepartment:
    odoo_id: int
    name: str
    parent_id: int | None = None
    manager_id: int | None = None  # hr.employee
    company_id: int | None = None
    active: bool = True
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooEmployee:
    odoo_id: int
    name: str
    work_email: str = ""
    department_id: int | None = None
    manager_id: int | None = None  # hr.employee (parent_id)
    company_id: int | None = None
    user_id: int | None = None
    partner_id: int | None = None  # work contact (17+) / home address (16)
    active: bool = True
    write_date: dt.datetime | None = None


@dataclass(frozen=True)
class OdooPartner:
    odoo_id: int
    name: str
    email: str = ""
    vat: str = ""
    ref: str = ""
    is_company: bool = False
    company_id: int | None = None
    active: bool = True
    write_date: dt.datetime | None = None


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class EmployeeExport:
    """An employee Odoo must know. ``local_id`` is our id (binder key)."""

    local_id: str
    name: str
    work_email: str
    company_id: int | None = None
    department_id: int | None = None
    manager_id: int | None = None  # hr.employee id of the manager, if bound


@dataclass(frozen=True)
class EmployeeExportResult:
    local_id: str
    odoo_id: int
    created: bool


# --------------------------------------------------------------------------- posting


@dataclass(frozen=True)
class Receipt:
    """A receipt file; ``data_b64`` is the base64 of the file's bytes."""

    name: str
    mimetype: str
    data_b64: str


@dataclass(frozen=True)
class PostingLine:
    """One line of an expense.

    ``amount`` is the tax-included total in the posting's currency, as on the
    receipt. Journal entries send ``amount`` as the bill's unit price when
    every tax of the line is price-included in Odoo, else the untaxed price
    (``untaxed_amount`` when given, else derived from the taxes; see
    :func:`integrations.odoo.mappers.bill_price_unit`); a bill whose total
    would then differ from ``amount`` is not posted. ``analytic_distribution`` maps an analytic account id (or
    comma-joined ids, one per plan) as a string to a percentage.
    """

    amount: Decimal
    description: str = ""
    tax_ids: tuple[int, ...] = ()
    analytic_distribution: dict[str, float] = field(default_factory=dict)
    untaxed_amount: Decimal | None = None
    account_id: int | None = None  # journal entries: overrides the product's expense account
    product_id: int | None = None  # overrides the posting's product


@dataclass(frozen=True)
class ExpensePosting:
    """A finance-reviewed expense revision to post.

    ``ref`` is our deterministic reference for this revision (e.g.
    ``"CP-000123-R2"``): the same revision always gets the same ref, so a
    retried posting finds what an earlier attempt created.
    """

    ref: str
    employee_id: int
    product_id: int
    currency_id: int
    date: dt.date
    description: str
    lines: tuple[PostingLine, ...]
    payment_mode: PaymentMode = "own_account"
    receipts: tuple[Receipt, ...] = ()
    partner_id: int | None = None  # journal entries: vendor; default the employee's work contact
    journal_id: int | None = None  # journal entries: purchase journal; default Odoo's
    company_id: int | None = None


@dataclass(frozen=True)
class PostingResult:
    """What Odoo holds for one reference.

    ``odoo_model``/``odoo_ids`` are the records carrying our reference
    (``hr.expense`` in expense mode, ``account.move`` in journal-entry mode);
    ``move_ids``/``document_name``/``state``/``payment_state`` describe the
    accounting document (``state`` falls back to the expense workflow state
    while no move exists); ``amount_total``/``currency_code`` are in the
    expense's own currency.
    """

    ref: str
    odoo_model: str
    odoo_ids: tuple[int, ...]
    document_name: str
    state: str
    amount_total: Decimal
    currency_code: str
    payment_state: str = ""
    move_ids: tuple[int, ...] = ()

    @property
    def posted(self) -> bool:
        return self.state == "posted"


@dataclass(frozen=True)
class PostingFailure:
    """A posting that failed on its own (the rest of the batch went through)."""

    ref: str
    error: IntegrationError

    @property
    def retryable(self) -> bool:
        return self.error.retryable


PostingOutcome = PostingResult | PostingFailure
