"""Odoo search domains and ``order`` strings, evaluated over the in-memory store.

Supports prefix ``'&'``, ``'|'``, ``'!'`` (implicit ``&`` between terms), the
operators ``= != in not in < <= > >= like not like ilike not ilike =like =ilike``
(``child_of``/``parent_of`` degrade to ``in``), dotted paths through many2one
fields, and the constant leaves ``(1, '=', 1)`` / ``(0, '=', 1)``. Equality and
``in`` on indexed fields are answered from the store's hash index; everything
else filters the candidate set in Python.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .orm import Env

OPERATORS = {"=", "!=", "<>", "in", "not in", "<", "<=", ">", ">=", "like", "not like", "ilike",
             "not ilike", "=like", "=ilike", "child_of", "parent_of", "=?"}
X2MANY = {"one2many", "many2many"}


def parse(domain: list) -> Any:
    """Turn a domain list into a tree of ('&'|'|', a, b), ('!', a) and ('leaf', f, op, v)."""
    stack: list = []
    for token in reversed(list(domain or [])):
        if token in ("&", "|"):
            left, right = stack.pop(), stack.pop()
            stack.append((token, left, right))
        elif token == "!":
            stack.append(("!", stack.pop()))
        elif isinstance(token, (list, tuple)) and len(token) == 3:
            stack.append(("leaf", token[0], str(token[1]).lower(), token[2]))
        else:
            raise ValueError(f"Invalid leaf {token!r}")
    node: Any = ("true",)
    for item in reversed(stack):
        node = item if node == ("true",) else ("&", item, node)
    return node


def _like(pattern: str, value: str, exact: bool, insensitive: bool) -> bool:
    if insensitive:
        pattern, value = pattern.lower(), value.lower()
    if not exact:
        return pattern in value
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S) is not None


def _falsy(value: Any) -> bool:
    return value is None or value is False or value == "" or value == []


class Evaluator:
    """Evaluates parsed domains for one model of an ``Env``."""

    def __init__(self, env: Env, model: str):
        self.env = env
        self.model = model

    def search(self, domain: list) -> set[int]:
        """Ids of ``model`` matching ``domain``."""
        result = self._eval(parse(domain), None)
        return set(result)  # never hand out the store's index sets

    # -- tree ------------------------------------------------------------------------------
    def _all(self) -> set[int]:
        return set(self.env.store.data[self.model])

    def _eval(self, node: Any, cand: set[int] | None) -> set[int]:
        kind = node[0]
        if kind == "true":
            return self._all() if cand is None else set(cand)
        if kind == "&":
            first, second = node[1], node[2]
            if cand is None and not self._indexable(first) and self._indexable(second):
                first, second = second, first
            return self._eval(second, self._eval(first, cand))
        if kind == "|":
            return self._eval(node[1], cand) | self._eval(node[2], cand)
        if kind == "!":
            base = self._all() if cand is None else set(cand)
            return base - self._eval(node[1], base)
        return self._leaf(node[1], node[2], node[3], cand)

    def _indexable(self, node: Any) -> bool:
        if node[0] != "leaf":
            return False
        _, fname, op, value = node
        return (op in ("=", "in") and isinstance(fname, str) and "." not in fname
                and (fname == "id" or fname in self.env.store.indexed.get(self.model, ())))

    # -- leaves ----------------------------------------------------------------------------
    def _leaf(self, fname: Any, op: str, value: Any, cand: set[int] | None) -> set[int]:
        if not isinstance(fname, str):  # (1, '=', 1) / (0, '=', 1)
            ok = fname == value if op == "=" else fname != value
            return (self._all() if cand is None else set(cand)) if ok else set()
        if op not in OPERATORS:
            raise ValueError(f"Invalid operator {op!r} in domain term {(fname, op, value)!r}")
        if op == "=?":
            if _falsy(value):
                return self._all() if cand is None else set(cand)
            op = "="
        if op in ("child_of", "parent_of"):
            op = "in"
        head = fname.split(".")[0]
        mdef = self.env.models[self.model]
        if head not in mdef.fields:
            raise self.env.invalid_field(self.model, fname, (fname, op, value))
        if op in ("=", "in") and "." not in fname:
            hits = self._index_hits(fname, op, value)
            if hits is not None:
                return hits if cand is None else hits & cand
        base = self._all() if cand is None else cand
        return {rid for rid in base if self._match(rid, fname, op, value)}

    def _index_hits(self, fname: str, op: str, value: Any) -> set[int] | None:
        """Ids answered by the hash index for ``=``/``in`` leaves (None: not indexable)."""
        values = list(value) if op == "in" and isinstance(value, (list, tuple)) else [value]
        if fname == "id":
            return {i for i in values if isinstance(i, int) and i in self.env.store.data[self.model]}
        ftype = self.env.models[self.model].fields[fname]["type"]
        if ftype in X2MANY or (ftype == "many2one" and any(isinstance(v, str) for v in values)):
            return None  # x2many containment and m2o-by-name need the slow path
        found = [self.env.store.lookup(self.model, fname, v) for v in values]
        if any(f is None for f in found):
            return None
        return found[0] if len(found) == 1 else set().union(*found)

    def _values(self, rid: int, path: str) -> tuple[str, list]:
        """Follow ``path`` from record ``rid``; returns the last field type and its values."""
        model, ids = self.model, [rid]
        parts = path.split(".")
        for i, part in enumerate(parts):
            fdef = self.env.models[model].fields.get(part)
            if fdef is None:
                raise self.env.invalid_field(model, part, (path,))
            vals = [self.env.raw_value(model, r, part) for r in ids]
            if i == len(parts) - 1:
                return fdef["type"], vals
            nxt: list[int] = []
            for v in vals:
                if isinstance(v, list):
                    nxt.extend(v)
                elif v:
                    nxt.append(v)
            model, ids = fdef["relation"], nxt
        return "char", []

    def _match(self, rid: int, fname: str, op: str, value: Any) -> bool:
        if fname == "id":
            ftype, vals = "integer", [rid]
        else:
            ftype, vals = self._values(rid, fname)
        relation = None
        if ftype in ("many2one", *X2MANY):
            relation = self._relation(fname)
        if ftype in X2MANY:
            flat = [i for v in vals for i in (v or [])]
            if op in ("=", "in", "!=", "<>", "not in"):
                positive = op in ("=", "in")
                if _falsy(value):
                    return (not flat) == positive
                wanted = value if isinstance(value, (list, tuple)) else [value]
                if wanted and isinstance(wanted[0], str):
                    names = {self.env.display_name(relation, i) for i in flat}
                    hit = any(w in names for w in wanted)
                else:
                    hit = bool(set(flat) & set(wanted))
                return hit == positive
            vals = [self.env.display_name(relation, i) for i in flat] or [False]
        elif ftype == "many2one" and isinstance(value, str) and op not in ("in", "not in"):
            vals = [self.env.display_name(relation, v) if v else False for v in vals]
        negative = op in ("!=", "<>", "not in", "not like", "not ilike")
        results = [self._cmp(v, op, value) for v in (vals or [False])]
        return all(results) if negative else any(results)

    def _relation(self, path: str) -> str | None:
        model = self.model
        fdef: dict = {}
        for part in path.split("."):
            fdef = self.env.models[model].fields[part]
            model = fdef.get("relation", model)
        return fdef.get("relation")

    @staticmethod
    def _cmp(v: Any, op: str, value: Any) -> bool:
        if op == "=":
            return _falsy(v) if value is False or value is None else v == value
        if op in ("!=", "<>"):
            return not _falsy(v) if value is False or value is None else v != value
        if op in ("in", "not in"):
            wanted = list(value) if isinstance(value, (list, tuple, set)) else [value]
            inside = v in wanted or (_falsy(v) and False in wanted)
            return inside if op == "in" else not inside
        if op in ("like", "ilike", "=like", "=ilike", "not like", "not ilike"):
            if _falsy(v):
                return op.startswith("not")
            hit = _like(str(value), str(v), op.startswith("="), "ilike" in op)
            return not hit if op.startswith("not") else hit
        if _falsy(v) and not isinstance(v, (int, float)) or v is None or v is False:
            return False
        try:
            return {"<": v < value, "<=": v <= value, ">": v > value, ">=": v >= value}[op]
        except TypeError:
            return False


def sort_ids(env: Env, model: str, ids: list[int], order: str | None) -> list[int]:
    """Sort ids by an Odoo order string ('name desc, id'); unset values sort last on asc."""
    spec = order or env.models[model].order or "id"
    keys = []
    for part in spec.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        fname = bits[0].strip('"')
        desc = len(bits) > 1 and bits[1].lower() == "desc"
        if fname != "id" and fname not in env.models[model].fields:
            raise ValueError(f"Invalid field {fname!r} on model {model!r}")
        keys.append((fname, desc))
    if not any(k == "id" for k, _ in keys):
        keys.append(("id", False))
    result = list(ids)
    for fname, desc in reversed(keys):
        def key(rid: int, fname: str = fname, desc: bool = desc) -> tuple:
            v = rid if fname == "id" else env.raw_value(model, rid, fname)
            if isinstance(v, list):
                v = v[0] if v else None
            null = _falsy(v) and not isinstance(v, (int, float)) or v is None or v is False
            return (1 if null else 0, "" if null else v)  # PostgreSQL: NULLS LAST for ASC
        if desc:
            result.sort(key=lambda r, f=fname: _desc_key(env, model, r, f), reverse=True)
        else:
            result.sort(key=key)
    return result


def _desc_key(env: Env, model: str, rid: int, fname: str) -> tuple:
    v = rid if fname == "id" else env.raw_value(model, rid, fname)
    if isinstance(v, list):
        v = v[0] if v else None
    if v is None or v is False or v == "":
        return (2, 0)  # NULLS FIRST when descending (reverse=True puts the largest first)
    if isinstance(v, bool):
        v = int(v)
    return (1, v) if not isinstance(v, str) else (1, v)
