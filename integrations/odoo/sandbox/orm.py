"""A tiny ORM over the store: create / write / unlink / read / search with Odoo semantics.

``Env`` is built per RPC call (user, context) around the shared store and the
profile's ``Registry``. It promises Odoo's observable behaviour: many2one values
read back as ``[id, display_name]``, x2many as id lists, ``write_date`` changes on
every write, x2many command tuples are accepted, required fields are enforced
with Odoo's fault text for the profile, missing ids raise MissingError on write.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING, Any

from . import access
from .domain import Evaluator, sort_ids
from .errors import UserError, ValidationError, missing
from .schema import O2M_INVERSE, ModelDef

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry
    from .store import Store

X2MANY = ("one2many", "many2many")
_clock_lock = threading.Lock()
_last_ts = [dt.datetime.min]


class InvalidTextRepresentation(Exception):
    """What PostgreSQL says when a non-integer lands in an integer column."""


InvalidTextRepresentation.__module__ = "psycopg2.errors"


def foreign_key_error(profile: str, mdef: ModelDef, fname: str) -> ValidationError:
    """What Odoo's RPC layer makes of a ``psycopg2.errors.ForeignKeyViolation`` (an id that
    does not exist in a many2one): 17.0 ``odoo/service/model.py::_as_validation_error``,
    19.0 ``BaseModel._sql_error_to_message_generic`` (source texts, not recorded)."""
    table = mdef.name.replace(".", "_")
    if profile == "19":
        fstring = mdef.fields[fname].get("string", fname)
        return ValidationError(
            "The operation cannot be completed: Another model is using the record you are trying "
            f"to delete.\n\nThe troublemaker is: '{mdef.description}' ({mdef.name})\n"
            f"Thanks to the following constraint: '{fstring}' ({fname})\n"
            "How about archiving the record instead?")
    return ValidationError(
        "The operation cannot be completed: another model requires the record being deleted. "
        f"If possible, archive it instead.\n\nModel: {mdef.description} ({mdef.name})\n"
        f"Constraint: {table}_{fname}_fkey\n")


def now_ts() -> str:
    """A strictly increasing UTC timestamp with microseconds (write_date never repeats)."""
    with _clock_lock:
        ts = max(dt.datetime.utcnow(), _last_ts[0] + dt.timedelta(microseconds=1))
        _last_ts[0] = ts
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")


def today() -> str:
    return dt.date.today().isoformat()


class Env:
    """The environment of one call: profile, user, context, store and registry."""

    def __init__(self, profile: str, store: Store, registry: Registry, uid: int = 2,
                 context: dict | None = None):
        self.profile = profile
        self.store = store
        self.registry = registry
        self.models: dict[str, ModelDef] = registry.models
        self.uid = uid
        self.context = dict(context or {})
        self.created = 0  # records created in this call (drives the latency model)
        self.posted = 0  # journal entries posted in this call

    # -- helpers ---------------------------------------------------------------------------
    def with_context(self, **ctx: Any) -> Env:
        env = Env(self.profile, self.store, self.registry, self.uid, {**self.context, **ctx})
        env.created, env.posted = self.created, self.posted
        return env

    def rec(self, model: str, rid: int) -> dict:
        """The stored values of one record ({} when missing)."""
        return self.store.get(model, rid) or {}

    def exists(self, model: str, ids: list[int]) -> list[int]:
        return [i for i in ids if self.store.get(model, i) is not None]

    def ensure(self, model: str, ids: list[int]) -> None:
        """Raise Odoo's MissingError when some ids are gone."""
        gone = [i for i in ids if self.store.get(model, i) is None]
        if gone:
            raise missing(model, gone, self.uid)

    def invalid_field(self, model: str, fname: str, term: tuple) -> Exception:
        if self.profile == "19" and len(term) == 3:
            return ValueError(f"Invalid field {model}.{fname} in condition {term!r}")
        return ValueError(f"Invalid field {fname!r} on model {model!r}")

    def display_name(self, model: str | None, rid: Any) -> str:
        if not model or not rid:
            return ""
        rec = self.store.get(model, rid)
        if rec is None:
            return ""
        fn = self.registry.display.get(model)
        if fn:
            return fn(self, rid, rec)
        name = rec.get("name")
        return str(name) if name else f"{model},{rid}"

    def raw_value(self, model: str, rid: int, fname: str) -> Any:
        """Stored value, computed value, or inverse list for one2many fields."""
        if fname == "id":
            return rid
        if fname == "display_name":
            return self.display_name(model, rid)
        computed = self.registry.computed.get((model, fname))
        if computed:
            return computed(self, rid)
        inverse = O2M_INVERSE.get((model, fname))
        if inverse:
            child = self.models[model].fields[fname]["relation"]
            found = self.store.lookup(child, inverse, rid)
            if found is None:
                found = {i for i, r in self.store.data[child].items() if r.get(inverse) == rid}
            return sorted(found)
        rec = self.store.get(model, rid) or {}
        return rec.get(fname, [] if self.models[model].fields.get(fname, {}).get("type") in X2MANY
                       else False)

    def search(self, model: str, domain: list, offset: int = 0, limit: int | None = None,
               order: str | None = None) -> list[int]:
        """Ids matching ``domain`` (after record rules), sorted, sliced."""
        access.check_model(self, model, "read")
        domain = access.rule_domain(self, model, list(domain or []))
        ids = Evaluator(self, model).search(domain)
        if self._active_test(model, domain):
            data = self.store.data[model]
            ids = {i for i in ids if data[i].get("active", True) is not False}
        ordered = sort_ids(self, model, list(ids), order)
        end = None if not limit else (offset or 0) + limit
        return ordered[offset or 0:end]

    def _active_test(self, model: str, domain: list) -> bool:
        """Odoo hides archived records unless the domain names ``active`` or the context
        says ``active_test: False``."""
        if "active" not in self.models[model].fields or self.context.get("active_test", True) is False:
            return False
        return not any(isinstance(t, (list, tuple)) and len(t) == 3 and isinstance(t[0], str)
                       and t[0].split(".")[0] == "active" for t in domain or [])

    # -- reading ---------------------------------------------------------------------------
    def format_value(self, model: str, rid: int, fname: str) -> Any:
        fdef = self.models[model].fields[fname]
        value = self.raw_value(model, rid, fname)
        ftype = fdef["type"]
        if ftype == "many2one":
            if not value:
                return False
            return [value, self.display_name(fdef.get("relation"), value)]
        if ftype in X2MANY:
            return list(value or [])
        if ftype in ("float", "monetary"):
            return float(value or 0.0)
        if ftype == "integer":
            return int(value or 0)
        if ftype == "boolean":
            return bool(value)
        if ftype == "datetime" and value:
            return str(value)[:19]
        if value is None or value == "" and ftype not in ("char", "text", "html"):
            return False
        return value

    def read(self, model: str, ids: list[int], fields: list[str] | None = None) -> list[dict]:
        """Odoo's read: missing ids are skipped, unknown fields raise ValueError."""
        access.check_model(self, model, "read")
        mdef = self.models[model]
        names = list(fields) if fields else [f for f in mdef.fields if f not in ("password",)]
        for f in names:
            if f not in mdef.fields:
                raise ValueError(f"Invalid field {f!r} on model {model!r}")
        out = []
        for rid in ids:
            if self.store.get(model, rid) is None:
                continue
            row = {"id": rid}
            for f in names:
                if f != "id":
                    row[f] = self.format_value(model, rid, f)
            out.append(row)
        return out

    # -- writing ---------------------------------------------------------------------------
    def _convert(self, model: str, fname: str, value: Any) -> Any:
        mdef = self.models[model]
        fdef = mdef.fields.get(fname)
        if fdef is None:
            if self.profile == "19":
                raise ValueError(f"Invalid field {fname!r} in {model!r}")
            raise ValueError(f"Invalid field {fname!r} on model {model!r}")
        ftype = fdef["type"]
        if value is None:
            return False
        if ftype == "many2one":
            if isinstance(value, (list, tuple)):
                value = value[0] if value else False
            if value is False:
                return False
            if isinstance(value, bool) or not isinstance(value, int):
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise InvalidTextRepresentation(
                        f'invalid input syntax for type integer: "{value}"') from None
            self._check_foreign_key(model, fname, fdef, value)
            return value
        if ftype == "selection" and value is not False:
            allowed = [k for k, _ in fdef.get("selection") or []]
            if allowed and value not in allowed:
                raise ValueError(f"Wrong value for {model}.{fname}: {value!r}")
        if ftype in ("float", "monetary"):
            return float(value or 0.0)
        if ftype == "integer":
            return int(value or 0)
        if ftype == "boolean":
            return bool(value)
        if ftype in ("date", "datetime") and value and not isinstance(value, str):
            return value.isoformat(sep=" ") if ftype == "datetime" else value.isoformat()[:10]
        return value

    def _check_foreign_key(self, model: str, fname: str, fdef: dict, value: int) -> None:
        """PostgreSQL's foreign key on a many2one column, as Odoo reports its violation.

        Only relations to models the sandbox serves are checked (others have no table).
        """
        relation = fdef.get("relation")
        if not relation or relation not in self.models or self.store.get(relation, value) is not None:
            return
        raise foreign_key_error(self.profile, self.models[model], fname)

    def _apply_x2many(self, model: str, rid: int, rec: dict, fname: str, value: Any) -> None:
        """Apply Odoo command tuples (or a plain id list) to an x2many field."""
        fdef = self.models[model].fields[fname]
        relation = fdef["relation"]
        inverse = O2M_INVERSE.get((model, fname))
        current = list(self.raw_value(model, rid, fname)) if self.store.get(model, rid) else []
        original = list(current)
        if value and all(isinstance(v, int) for v in value):
            value = [(6, 0, list(value))]
        for cmd in value or []:
            code = cmd[0]
            if code == 0:
                vals = dict(cmd[2] or {})
                if inverse:
                    vals[inverse] = rid
                new_id = self.create(relation, [vals])[0]
                current.append(new_id)
                original.append(new_id)
            elif code == 1:
                self.write(relation, [cmd[1]], cmd[2])
            elif code == 2:
                self.unlink(relation, [cmd[1]])
                current = [i for i in current if i != cmd[1]]
                original = [i for i in original if i != cmd[1]]
            elif code == 3:
                current = [i for i in current if i != cmd[1]]
            elif code == 4:
                if cmd[1] not in current:
                    current.append(cmd[1])
            elif code == 5:
                current = []
            elif code == 6:
                current = list(cmd[2] or [])
        if not inverse:
            rec[fname] = current
            return
        # one2many: the link lives on the children
        for cid in set(original) - set(current):
            if self.store.get(relation, cid) is not None:
                self.write(relation, [cid], {inverse: False}, check=False)
        for cid in set(current) - set(original):
            self.write(relation, [cid], {inverse: rid}, check=False)

    def _check_required(self, model: str, rec: dict) -> None:
        mdef = self.models[model]
        if model == "res.partner" and not rec.get("name"):
            raise ValidationError("The operation cannot be completed: Contacts require a name")
        for fname in mdef.required_fields():
            value = rec.get(fname, False)
            if value is False or value is None or value == "":
                fstring = mdef.fields[fname].get("string", fname)
                if model == "res.partner":
                    raise ValidationError("The operation cannot be completed: Contacts require a name")
                if self.profile == "19":
                    raise ValidationError(
                        f"The operation cannot be completed: Missing required value for the field "
                        f"'{fstring}' ({fname}).\nModel: '{mdef.description}' ({model})\n"
                        "- create/update: a mandatory field is not set\n"
                        "- delete: another model requires the record being deleted, you can "
                        "archive it instead\n")
                raise UserError(
                    "The operation cannot be completed:\n"
                    "- Create/update: a mandatory field is not set.\n"
                    "- Delete: another model requires the record being deleted. If possible, "
                    f"archive it instead.\n\nModel: {mdef.description} ({model})\n"
                    f"Field: {fstring} ({fname})\n")

    def create(self, model: str, vals_list: list[dict]) -> list[int]:
        """Create records; returns their ids in order. Defaults come from context and hooks."""
        access.check_model(self, model, "create")
        ids = []
        for vals in vals_list:
            vals = dict(vals or {})
            for key, value in self.context.items():
                if key.startswith("default_") and key[8:] in self.models[model].fields:
                    vals.setdefault(key[8:], value)
            hook = self.registry.defaults.get(model)
            if hook:
                vals = hook(self, vals)
            if "active" in self.models[model].fields:
                vals.setdefault("active", True)
            rid = self.store.new_id(model)
            stamp = now_ts()
            rec: dict = {"create_date": stamp, "write_date": stamp, "create_uid": self.uid,
                         "write_uid": self.uid}
            later = {}
            for fname, value in vals.items():
                ftype = self.models[model].fields.get(fname, {}).get("type")
                if ftype in X2MANY:
                    later[fname] = value
                else:
                    rec[fname] = self._convert(model, fname, value)
            self._check_required(model, rec)
            self.store.put(model, rid, rec)
            self.created += 1
            if later:
                rec = dict(rec)
                for fname, value in later.items():
                    self._apply_x2many(model, rid, rec, fname, value)
                self.store.put(model, rid, rec)
            after = self.registry.after_create.get(model)
            if after:
                after(self, rid)
            ids.append(rid)
        return ids

    def write(self, model: str, ids: list[int], vals: dict, check: bool = True) -> bool:
        """Update records; ``write_date`` always moves forward. ``check`` runs business guards."""
        access.check_model(self, model, "write")
        self.ensure(model, ids)
        if check and self.registry.before_write.get(model):
            self.registry.before_write[model](self, ids, vals)
        for rid in ids:
            rec = dict(self.store.get(model, rid) or {})
            for fname, value in vals.items():
                if not check and fname not in self.models[model].fields:
                    rec[fname] = value  # internal bookkeeping value, never served
                    continue
                ftype = self.models[model].fields.get(fname, {}).get("type")
                if ftype in X2MANY:
                    self._apply_x2many(model, rid, rec, fname, value)
                else:
                    rec[fname] = self._convert(model, fname, value)
            self._check_required(model, rec)
            rec["write_date"] = now_ts()
            rec["write_uid"] = self.uid
            self.store.put(model, rid, rec)
        after = self.registry.after_write.get(model)
        if check and after:
            after(self, ids, vals)
        return True

    def unlink(self, model: str, ids: list[int], check: bool = True) -> bool:
        """Delete records (MissingError for unknown ids; business guards may refuse)."""
        access.check_model(self, model, "unlink")
        self.ensure(model, ids)
        if check and self.registry.before_unlink.get(model):
            self.registry.before_unlink[model](self, ids)
        for rid in ids:
            for (parent, _fname), _inverse in O2M_INVERSE.items():
                if parent == model and _fname in ("line_ids",):
                    child = self.models[model].fields[_fname]["relation"]
                    for cid in list(self.raw_value(model, rid, _fname)):
                        self.store.delete(child, cid)
            self.store.delete(model, rid)
        return True
