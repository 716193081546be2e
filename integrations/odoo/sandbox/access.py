"""Access rights of the restricted user, with Odoo's texts.

Admin (uid 2) may do everything. A user whose ``sandbox_role`` is ``employee``
(seeded: login ``demo``) has no accounting rights: creating/modifying/deleting
accounting records or companies raises the model-access AccessError, reading
journal entries too, and expenses / expense reports of other employees are
hidden by a record rule ("Uh-oh! ... top-secret records").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import AccessError

if TYPE_CHECKING:  # pragma: no cover
    from .orm import Env

ACCOUNTING = {"account.account", "account.tax", "account.journal", "account.move",
              "account.move.line", "account.payment", "account.analytic.account",
              "res.currency", "res.currency.rate", "account.payment.register"}
READ_DENIED = {"account.move", "account.move.line", "account.payment"}
OWN_RECORDS = {"hr.expense": "employee_id", "hr.expense.sheet": "employee_id"}
VERBS = {"create": "create", "write": "modify", "unlink": "delete", "read": "access"}

_MOVE_READERS = ["Expenses/Team Approver", "Invoicing/Billing", "Invoicing/Billing Administrator",
                 "Technical/Show Accounting Features - Readonly", "User types/Portal"]


def is_restricted(env: Env) -> bool:
    """True for the seeded user without accounting / approval rights."""
    user = env.store.get("res.users", env.uid) or {}
    return user.get("sandbox_role") == "employee"


def _groups(env: Env, model: str, op: str) -> list[str]:
    if model == "res.company":
        return ["Administration/Access Rights"]
    if op == "read":
        return _MOVE_READERS
    if model == "account.account" and env.profile == "19":
        return ["Accounting/Administrator"]
    return ["Invoicing/Billing Administrator"]


def check_model(env: Env, model: str, op: str) -> None:
    """Raise the model-access AccessError when the user may not ``op`` on ``model``."""
    if not is_restricted(env):
        return
    denied = (op != "read" and (model in ACCOUNTING or model == "res.company")) or (
        op == "read" and model in READ_DENIED)
    if not denied:
        return
    desc = env.models[model].description if model in env.models else model
    groups = "".join(f"\t- {g}\n" for g in _groups(env, model, op))
    raise AccessError(
        f"You are not allowed to {VERBS[op]} '{desc}' ({model}) records.\n\n"
        f"This operation is allowed for the following groups:\n{groups}\n"
        "Contact your administrator to request access if necessary.")


def own_employee_ids(env: Env) -> set[int]:
    found = env.store.lookup("hr.employee", "user_id", env.uid)
    if found is None:
        found = {i for i, r in env.store.data["hr.employee"].items() if r.get("user_id") == env.uid}
    return found


def rule_domain(env: Env, model: str, domain: list) -> list:
    """``domain`` narrowed by the record rules that apply to the user."""
    if model in OWN_RECORDS and is_restricted(env):
        return ["&", (OWN_RECORDS[model], "in", sorted(own_employee_ids(env)) or [0])] + (
            domain or [(1, "=", 1)])
    return domain


def check_records(env: Env, model: str, ids: list[int], op: str = "read") -> None:
    """Raise the record-rule AccessError when some existing ids are hidden from the user."""
    if model not in OWN_RECORDS or not is_restricted(env):
        return
    own = own_employee_ids(env)
    field = OWN_RECORDS[model]
    for rid in ids:
        rec = env.store.get(model, rid)
        if rec is not None and rec.get(field) not in own:
            user = env.store.get("res.users", env.uid) or {}
            raise AccessError(
                "Uh-oh! Looks like you have stumbled upon some top-secret records.\n\n"
                f"Sorry, {user.get('name')} (id={env.uid}) doesn't have '{op}' access to:\n"
                f"- {env.models[model].description} ({model})\n\n"
                "If you really, really need access, perhaps you can win over your friendly "
                "administrator with a batch of freshly baked cookies.")
