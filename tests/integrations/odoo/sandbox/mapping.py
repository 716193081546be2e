"""Map the ids of a recorded session to the ids the sandbox returns while replaying it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from integrations.odoo.sandbox.schema import load_models

MODEL_METHODS = {"create", "search", "search_read", "search_count", "fields_get", "name_search",
                 "default_get"}
CONTEXT_KEYS = {"company_paid_move_ids": "account.move", "default_expense_ids": "hr.expense",
                "default_sheet_ids": "hr.expense.sheet"}


class Mapper:
    """Recorded id -> sandbox id, per model; unknown ids map to themselves (seed ids match)."""

    def __init__(self, profile: str = "19"):
        self.models = load_models(profile)
        self.maps: dict[str, dict[int, int]] = defaultdict(dict)

    def learn(self, model: str, recorded: Any, ours: Any) -> None:
        if isinstance(recorded, list) and isinstance(ours, list):
            for r, o in zip(sorted(recorded), sorted(ours), strict=False):
                self.learn(model, r, o)
        elif isinstance(recorded, int) and isinstance(ours, int) and recorded and ours:
            self.maps[model][recorded] = ours

    def id(self, model: str | None, rid: Any) -> Any:
        if isinstance(rid, bool) or not isinstance(rid, int) or not model:
            return rid
        return self.maps[model].get(rid, rid)

    def ids(self, model: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self.id(model, v) for v in value]
        return self.id(model, value)

    def vals(self, model: str, vals: dict) -> dict:
        out = {}
        for key, value in vals.items():
            fdef = self.models.get(model).fields.get(key, {}) if model in self.models else {}
            relation = fdef.get("relation")
            if fdef.get("type") == "many2one":
                value = self.id(relation, value)
            elif fdef.get("type") in ("one2many", "many2many") and isinstance(value, list):
                value = [self._command(relation, c) for c in value]
            out[key] = value
        return out

    def _command(self, relation: str, cmd: Any) -> Any:
        if isinstance(cmd, list) and cmd and cmd[0] == 6:
            return [6, 0, self.ids(relation, cmd[2])]
        if isinstance(cmd, list) and cmd and cmd[0] in (1, 2, 3, 4):
            return [cmd[0], self.id(relation, cmd[1]), *cmd[2:]]
        return self.id(relation, cmd)

    def domain(self, model: str, domain: list) -> list:
        out = []
        for leaf in domain or []:
            if isinstance(leaf, list) and len(leaf) == 3 and isinstance(leaf[0], str):
                field = leaf[0]
                fdef = self.models[model].fields.get(field, {}) if model in self.models else {}
                relation = model if field == "id" else fdef.get("relation")
                leaf = [field, leaf[1], self.ids(relation, leaf[2]) if relation else leaf[2]]
            out.append(leaf)
        return out

    def context(self, ctx: dict | None) -> dict | None:
        if not ctx:
            return ctx
        out = dict(ctx)
        if "active_ids" in out:
            out["active_ids"] = self.ids(out.get("active_model", "hr.expense"), out["active_ids"])
        for key, model in CONTEXT_KEYS.items():
            if key in out:
                out[key] = self.ids(model, out[key])
        return out

    def call(self, model: str, method: str, args: list, kwargs: dict | None) -> tuple[list, dict]:
        """Recorded (args, kwargs) of an execute_kw, with sandbox ids."""
        args = list(args or [])
        kwargs = dict(kwargs or {})
        if "context" in kwargs:
            kwargs["context"] = self.context(kwargs["context"])
        if method in MODEL_METHODS:
            if method == "create" and args:
                args[0] = ([self.vals(model, v) for v in args[0]] if isinstance(args[0], list)
                           else self.vals(model, args[0]))
            elif args and isinstance(args[0], list) and method != "fields_get":
                args[0] = self.domain(model, args[0])
            return args, kwargs
        if args:
            args[0] = self.ids(model, args[0])
        if method == "write" and len(args) > 1:
            args[1] = self.vals(model, args[1])
        return args, kwargs

    def learn_result(self, model: str, method: str, recorded: Any, ours: Any) -> None:
        """Learn ids from what a call returned (created ids, actions' res_id and contexts)."""
        if method == "create":
            self.learn(model, recorded, ours)
        if not (isinstance(recorded, dict) and isinstance(ours, dict)):
            return
        res_model = recorded.get("res_model")
        if res_model and recorded.get("res_id"):
            self.learn(res_model, recorded["res_id"], ours.get("res_id"))
        rctx, octx = recorded.get("context"), ours.get("context")
        if isinstance(rctx, dict) and isinstance(octx, dict):
            if "active_ids" in rctx:
                self.learn(rctx.get("active_model", "hr.expense"), rctx["active_ids"], octx.get("active_ids"))
            for key, ctx_model in CONTEXT_KEYS.items():
                if key in rctx:
                    self.learn(ctx_model, rctx[key], octx.get(key))
        rdom, odom = recorded.get("domain"), ours.get("domain")
        if isinstance(rdom, list) and isinstance(odom, list) and rdom and odom:
            self.learn(res_model, rdom[0][2], odom[0][2])
