"""What differs between Odoo versions, in one place.

Checked against the fields and transcripts recorded from Odoo 17.0 and 19.0
(``shared/odoo``); 16.0 and 18.0 follow Odoo's release notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OdooVersion:
    """A server version, e.g. ``OdooVersion(17, 0, "17.0")``."""

    major: int
    minor: int = 0
    label: str = ""

    @classmethod
    def from_payload(cls, payload: Any) -> OdooVersion:
        """Parse ``common.version()`` (``server_version_info``) or ``/web/version`` (``version_info``)."""
        if not isinstance(payload, dict):
            raise ValueError(f"not a version document: {payload!r}")
        info = payload.get("server_version_info") or payload.get("version_info")
        label = str(payload.get("server_version") or payload.get("version") or "")
        if info:
            major, minor = _as_int(info[0]), _as_int(info[1]) if len(info) > 1 else 0
        else:
            head = label.split("+")[0].split("-")[-1]  # "saas~17.2" / "17.0+e"
            numbers = head.replace("saas~", "").split(".")
            major, minor = _as_int(numbers[0]), _as_int(numbers[1]) if len(numbers) > 1 else 0
        return cls(major, minor, label or f"{major}.{minor}")

    # -- expense workflow -------------------------------------------------
    @property
    def has_expense_sheets(self) -> bool:
        """17/18 group expenses in ``hr.expense.sheet`` reports; 19 has none."""
        return self.major < 19

    @property
    def approve_creates_draft_moves(self) -> bool:
        """18.0: approving a report creates draft moves, ``action_sheet_move_post`` posts them."""
        return self.major == 18

    # -- field names ------------------------------------------------------
    @property
    def employee_partner_field(self) -> str:
        return "address_home_id" if self.major <= 16 else "work_contact_id"

    @property
    def account_company_field(self) -> str:
        return "company_ids" if self.major >= 18 else "company_id"

    @property
    def expense_amount_field(self) -> str:
        return "total_amount" if self.major <= 16 else "total_amount_currency"

    @property
    def tax_price_include_fields(self) -> list[str]:
        """Where a tax says it is price-included: 19 keeps the choice in
        ``price_include_override`` (``price_include`` is computed from it)."""
        return ["price_include", "price_include_override"] if self.major >= 19 else ["price_include"]


def model_fields(model: str, version: OdooVersion) -> list[str]:
    """The fields the importer reads for ``model`` on ``version`` (all exist there)."""
    v = version.major
    fields = {
        "res.company": ["name", "currency_id", "country_id", "partner_id"],
        "res.currency": ["name", "full_name", "symbol", "active", "rate", "inverse_rate"],
        "res.currency.rate": ["name", "currency_id", "company_id", "rate", "company_rate",
                              "inverse_company_rate"],
        "account.account": ["code", "name", "account_type", "currency_id",
                            "company_ids" if v >= 18 else "company_id",
                            "active" if v >= 18 else "deprecated"],
        "account.tax": ["name", "amount", "amount_type", "type_tax_use", "price_include",
                        "company_id", "active"],
        "account.journal": ["code", "name", "type", "company_id", "currency_id", "active"],
        "account.analytic.account": ["name", "code", "plan_id", "company_id", "active"],
        "product.product": ["name", "default_code", "can_be_expensed", "standard_price",
                            "supplier_taxes_id", "property_account_expense_id", "company_id",
                            "active"],
        "hr.department": ["name", "parent_id", "manager_id", "company_id", "active"],
        "hr.employee": ["name", "work_email", "department_id", "parent_id", "company_id",
                        "user_id", version.employee_partner_field, "active"],
        "res.partner": ["name", "email", "vat", "ref", "is_company", "company_id", "active"],
    }[model]
    return [*fields, "write_date"]


def _as_int(value: Any) -> int:
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else 0
