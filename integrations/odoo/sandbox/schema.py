"""Model definitions: which models exist per profile and what their fields are.

Field names, types, required flags and selections come from the ``fields_get``
recordings copied into ``fields/<version>/`` (never retyped). Models without a
recording get a minimal field list here. Every model also gets ``id``,
``display_name``, ``create_date``, ``write_date``, ``create_uid``, ``write_uid``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

FIELDS_DIR = Path(__file__).parent / "fields"

# Odoo's _description of each model: used in access and required-field texts.
DESCRIPTIONS = {
    "res.company": "Companies", "res.partner": "Contact", "res.currency": "Currency",
    "res.currency.rate": "Currency Rate", "res.country": "Country", "res.users": "User",
    "hr.department": "Department", "hr.employee": "Employee", "account.account": "Account",
    "account.tax": "Tax", "account.journal": "Journal", "account.analytic.account": "Analytic Account",
    "account.analytic.plan": "Analytic Plans", "product.product": "Product Variant",
    "hr.expense": "Expense", "hr.expense.sheet": "Expense Report", "account.move": "Journal Entry",
    "account.move.line": "Journal Item", "account.payment": "Payments", "ir.attachment": "Attachment",
    "ir.model.data": "Model Data", "mail.message": "Message", "ir.sequence": "Sequence",
    "account.payment.method.line": "Payment Methods", "account.payment.register": "Pay",
    "hr.expense.refuse.wizard": "Expense Refuse Reason Wizard",
    "hr.expense.approve.duplicate": "Expense Approve Duplicate",
    "hr.expense.post.wizard": "Expense Post Wizard",
}

# Odoo's default _order per model (the rest use "id").
ORDERS = {
    "res.partner": "name, id", "res.currency": "name", "hr.department": "name",
    "hr.employee": "name", "account.account": "code", "account.journal": "sequence, type, code",
    "product.product": "default_code, name, id", "hr.expense": "date desc, id desc",
    "hr.expense.sheet": "accounting_date desc, id desc", "account.move": "date desc, name desc, id desc",
    "account.move.line": "date desc, move_id desc, id", "account.payment": "date desc, name desc",
    "res.currency.rate": "name desc", "account.tax": "sequence, id",
}

# one2many fields computed from their inverse many2one: (model, field) -> inverse.
O2M_INVERSE = {
    ("hr.expense.sheet", "expense_line_ids"): "sheet_id",
    ("hr.expense.sheet", "account_move_ids"): "expense_sheet_id",
    ("account.move", "line_ids"): "move_id",
    ("account.move", "invoice_line_ids"): "move_id",
    ("account.move", "expense_ids"): "account_move_id",
    ("res.currency", "rate_ids"): "currency_id",
    ("hr.department", "member_ids"): "department_id",
    ("hr.employee", "child_ids"): "parent_id",
    ("account.move", "reversal_move_id"): "reversed_entry_id",
}

# Equality lookups on these fields use an in-memory index (fast at 20k+ records).
INDEXED = {
    "name", "ref", "code", "default_code", "login", "module", "model", "res_id", "res_model",
    "employee_id", "move_id", "sheet_id", "expense_id", "expense_sheet_id", "account_move_id",
    "partner_id", "state", "work_email", "payment_id", "user_id", "currency_id", "journal_id",
    "parent_id", "department_id", "product_id", "date",
}

# Minimal field lists for models without a recording: name -> (type, relation, required).
_M = "many2one"
EXTRA_MODELS: dict[str, dict[str, tuple]] = {
    "res.company": {"name": ("char", None, True), "currency_id": (_M, "res.currency", True),
                    "partner_id": (_M, "res.partner", False), "chart_template": ("char", None, False),
                    "country_id": (_M, "res.country", False),
                    "account_fiscal_country_id": (_M, "res.country", False),
                    "expense_journal_id": (_M, "account.journal", False),
                    "company_expense_allowed_payment_method_line_ids":
                        ("many2many", "account.payment.method.line", False)},
    "res.country": {"name": ("char", None, True), "code": ("char", None, False)},
    "res.users": {"name": ("char", None, True), "login": ("char", None, True),
                  "partner_id": (_M, "res.partner", False), "company_id": (_M, "res.company", False),
                  "employee_ids": ("one2many", "hr.employee", False), "active": ("boolean", None, False),
                  "password": ("char", None, False), "group_ids": ("many2many", "res.groups", False),
                  "groups_id": ("many2many", "res.groups", False)},
    "ir.model.data": {"module": ("char", None, True), "name": ("char", None, True),
                      "model": ("char", None, True), "res_id": ("many2one_reference", None, False),
                      "noupdate": ("boolean", None, False), "complete_name": ("char", None, False)},
    "account.analytic.plan": {"name": ("char", None, True)},
    "ir.sequence": {"name": ("char", None, True), "number_next": ("integer", None, False)},
    "account.payment.method.line": {"name": ("char", None, True),
                                    "journal_id": (_M, "account.journal", False),
                                    "payment_type": ("char", None, False)},
    "mail.message": {"body": ("html", None, False), "model": ("char", None, False),
                     "res_id": ("many2one_reference", None, False),
                     "attachment_ids": ("many2many", "ir.attachment", False),
                     "message_type": ("char", None, False), "subject": ("char", None, False)},
    "account.payment.register": {
        "amount": ("monetary", None, False), "currency_id": (_M, "res.currency", False),
        "journal_id": (_M, "account.journal", False), "payment_date": ("date", None, True),
        "partner_id": (_M, "res.partner", False),
        "payment_method_line_id": (_M, "account.payment.method.line", False),
        "communication": ("char", None, False), "can_edit_wizard": ("boolean", None, False),
        "group_payment": ("boolean", None, False), "line_ids": ("many2many", "account.move.line", False),
        "payment_difference_handling": ("selection", None, False),
        "company_id": (_M, "res.company", False)},
    "hr.expense.refuse.wizard": {"reason": ("char", None, True),
                                 "sheet_ids": ("many2many", "hr.expense.sheet", False),
                                 "expense_ids": ("many2many", "hr.expense", False)},
    "hr.expense.approve.duplicate": {"sheet_ids": ("many2many", "hr.expense.sheet", False),
                                     "expense_ids": ("many2many", "hr.expense", False)},
}

# Models each profile serves (besides the recorded ones).
PROFILE_MODELS = {
    "17": {"hr.expense.sheet"},
    "19": {"hr.expense.post.wizard"},
}
COMMON_MODELS = [
    "res.company", "res.partner", "res.currency", "res.currency.rate", "res.country", "res.users",
    "hr.department", "hr.employee", "account.account", "account.tax", "account.journal",
    "account.analytic.account", "account.analytic.plan", "product.product", "hr.expense",
    "account.move", "account.move.line", "account.payment", "account.payment.method.line",
    "account.payment.register", "ir.attachment", "ir.model.data", "mail.message",
    "hr.expense.refuse.wizard", "hr.expense.approve.duplicate", "ir.sequence",
]

# Fields Odoo fills itself although they are flagged required: never asked of clients.
AUTO_REQUIRED = {
    "company_id", "currency_id", "price_unit", "quantity", "resource_id", "employee_type",
    "product_tmpl_id", "product_variant_ids", "uom_id", "uom_po_id", "categ_id", "detailed_type",
    "date_version", "distance_home_work_unit", "hr_responsible_id", "last_modified_date",
    "last_modified_uid", "marital", "version_id", "version_ids", "autopost_bills",
    "property_account_payable_id", "property_account_receivable_id", "invoice_reference_model",
    "invoice_reference_type", "auto_post", "state", "move_type", "date", "display_type",
    "tax_group_id", "country_id", "sequence", "company_ids", "service_tracking", "type",
    "payment_mode", "payment_date", "partner_type", "payment_type", "move_id",
}

BASE_FIELDS = {
    "id": {"string": "ID", "type": "integer", "required": False, "readonly": True},
    "display_name": {"string": "Display Name", "type": "char", "required": False, "readonly": True},
    "create_date": {"string": "Created on", "type": "datetime", "required": False, "readonly": True},
    "write_date": {"string": "Last Updated on", "type": "datetime", "required": False, "readonly": True},
    "create_uid": {"string": "Created by", "type": "many2one", "relation": "res.users",
                   "required": False, "readonly": True},
    "write_uid": {"string": "Last Updated by", "type": "many2one", "relation": "res.users",
                  "required": False, "readonly": True},
}


@dataclass
class ModelDef:
    """One model: its name, description, fields (fields_get shape) and order."""

    name: str
    description: str
    fields: dict[str, dict]
    order: str = "id"
    indexed: set[str] = field(default_factory=set)

    def required_fields(self) -> list[str]:
        """Required fields a client must supply (Odoo-managed ones excluded)."""
        if not hasattr(self, "_required"):
            self._required = [n for n, f in self.fields.items()
                              if f.get("required") and n not in AUTO_REQUIRED]
        return self._required


def _humanize(name: str) -> str:
    return name.replace("_ids", "s").replace("_id", "").replace("_", " ").title()


def load_models(profile: str) -> dict[str, ModelDef]:
    """All models served by a profile ('17' or '19'), keyed by model name."""
    version = f"{profile}.0"
    names = COMMON_MODELS + sorted(PROFILE_MODELS[profile])
    models: dict[str, ModelDef] = {}
    for name in names:
        path = FIELDS_DIR / version / f"{name}.json"
        if path.exists():
            fields = dict(json.loads(path.read_text())["fields"])
        else:
            fields = {}
        for fname, spec in EXTRA_MODELS.get(name, {}).items():
            if fname not in fields:
                ftype, relation, required = spec
                fields[fname] = {"string": _humanize(fname), "type": ftype, "required": required,
                                 "readonly": False}
                if relation:
                    fields[fname]["relation"] = relation
        for fname, spec in BASE_FIELDS.items():
            fields.setdefault(fname, dict(spec))
        indexed = {f for f in INDEXED if f in fields}
        models[name] = ModelDef(name, DESCRIPTIONS.get(name, name), fields,
                                ORDERS.get(name, "id"), indexed)
    return models
