"""Display names as Odoo renders them in many2one values and ``display_name``."""

from __future__ import annotations

from .registry import Registry

MOVE_TYPE_LABELS = {
    "entry": "Journal Entry", "out_invoice": "Invoice", "in_invoice": "Vendor Bill",
    "in_refund": "Vendor Credit Note", "out_refund": "Credit Note",
    "in_receipt": "Purchase Receipt", "out_receipt": "Sales Receipt",
}


def register(reg: Registry) -> None:
    """Plug the per-model display-name functions into ``reg``."""

    def account(env, rid, rec):
        return f"{rec.get('code', '')} {rec.get('name', '')}".strip()

    def product(env, rid, rec):
        code = rec.get("default_code")
        return f"[{code}] {rec.get('name', '')}" if code else rec.get("name", "")

    def move(env, rid, rec):
        name = rec.get("name") or "/"
        if rec.get("state") == "draft":
            label = MOVE_TYPE_LABELS.get(rec.get("move_type", "entry"), "Journal Entry")
            name = f"Draft {label} {name}" if name != "/" else f"Draft {label} (* {rid})"
        ref = rec.get("ref")
        return f"{name} ({ref})" if ref else name

    def move_line(env, rid, rec):
        parent = env.display_name("account.move", rec.get("move_id"))
        return f"{parent} {rec.get('name') or ''}".strip()

    def model_data(env, rid, rec):
        return f"{rec.get('module')}.{rec.get('name')}"

    def currency_rate(env, rid, rec):
        return str(rec.get("name") or "")

    reg.display.update({
        "account.account": account, "product.product": product, "account.move": move,
        "account.move.line": move_line, "ir.model.data": model_data,
        "res.currency.rate": currency_rate,
    })
