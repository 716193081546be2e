"""The generic ORM methods every model answers, with Odoo's signatures.

Signatures matter: JSON-2 binds named arguments with ``inspect.signature`` just
like Odoo's ``/json/2`` controller does, and ``/doc-bearer`` publishes them.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from typing import Any

from .registry import Registry


def _limit(value: Any) -> int | None:
    return None if value in (None, False, 0) else int(value)


def register(reg: Registry) -> None:
    """Plug the generic methods and the attachment / chatter behaviour into ``reg``."""

    @reg.method("*", api_model=True)
    def create(env, model, vals_list):
        if isinstance(vals_list, dict):
            return env.create(model, [vals_list])[0]
        return env.create(model, list(vals_list))

    @reg.method("*")
    def write(env, model, ids, vals):
        return env.write(model, ids, vals)

    @reg.method("*")
    def unlink(env, model, ids):
        return env.unlink(model, ids)

    @reg.method("*", needs_ids=False)
    def read(env, model, ids, fields=None, load="_classic_read"):
        return env.read(model, ids, fields or None)

    @reg.method("*", needs_ids=False)
    def exists(env, model, ids):
        return env.exists(model, ids)

    @reg.method("*", api_model=True)
    def search(env, model, domain, offset=0, limit=None, order=None, count=False):
        ids = env.search(model, domain, offset or 0, _limit(limit), order or None)
        return len(ids) if count else ids

    @reg.method("*", api_model=True)
    def search_read(env, model, domain=None, fields=None, offset=0, limit=None, order=None,
                    **read_kwargs):
        if read_kwargs:
            name = next(iter(read_kwargs))
            raise TypeError(f"BaseModel._read_format() got an unexpected keyword argument '{name}'")
        ids = env.search(model, domain or [], offset or 0, _limit(limit), order or None)
        return env.read(model, ids, fields or None)

    @reg.method("*", api_model=True)
    def search_count(env, model, domain, limit=None):
        return len(env.search(model, domain, 0, _limit(limit)))

    @reg.method("*", api_model=True)
    def fields_get(env, model, allfields=None, attributes=None):
        out = {}
        for fname, fdef in env.models[model].fields.items():
            if allfields and fname not in allfields:
                continue
            spec = {k: v for k, v in fdef.items() if not attributes or k in attributes}
            out[fname] = spec
        return out

    @reg.method("*", api_model=True)
    def name_search(env, model, name="", domain=None, operator="ilike", limit=100, args=None):
        domain = list(domain or args or [])
        ids = env.search(model, domain)
        hits = []
        for rid in ids:
            label = env.display_name(model, rid)
            if not name or _name_matches(label, name, operator):
                hits.append([rid, label])
            if limit and len(hits) >= limit:
                break
        return hits

    @reg.method("*", api_model=True)
    def default_get(env, model, fields_list):
        return {k[8:]: v for k, v in env.context.items()
                if k.startswith("default_") and k[8:] in fields_list}

    @reg.method("*", api_model=True)
    def check_access_rights(env, model, operation, raise_exception=True):
        return True

    @reg.method("res.users", api_model=True)
    def context_get(env, model):
        return {"lang": "en_US", "tz": "UTC", "uid": env.uid}

    @reg.method("*", needs_ids=True)
    def message_post(env, model, ids, body="", attachment_ids=None, **kwargs):
        if len(ids) != 1:
            raise ValueError(f"Expected singleton: {model}({', '.join(map(str, ids))},)")
        rid = ids[0]
        att_ids = [a for a in (attachment_ids or []) if isinstance(a, int)]
        msg_id = env.create("mail.message", [{
            "body": body, "model": model, "res_id": rid, "message_type": kwargs.get(
                "message_type", "comment"), "subject": kwargs.get("subject") or False,
            "attachment_ids": [(6, 0, att_ids)]}])[0]
        if att_ids:
            env.write("ir.attachment", att_ids, {"res_model": model, "res_id": rid}, check=False)
            fields = env.models[model].fields
            if "message_main_attachment_id" in fields and not env.rec(model, rid).get(
                    "message_main_attachment_id"):
                # Odoo picks the first PDF (or image) as the main attachment
                pdfs = [a for a in att_ids if "pdf" in str(env.rec("ir.attachment", a).get(
                    "mimetype", ""))]
                env.write(model, [rid], {"message_main_attachment_id": (pdfs or att_ids)[0]},
                          check=False)
        return msg_id

    def attachment_defaults(env, vals):
        vals.setdefault("type", "binary")
        datas = vals.get("datas") or vals.pop("raw", None)
        if isinstance(datas, bytes):
            datas = base64.b64encode(datas).decode()
            vals["datas"] = datas
        raw = base64.b64decode(datas) if datas else b""
        vals["file_size"] = len(raw)
        vals["checksum"] = hashlib.sha1(raw).hexdigest()
        if not vals.get("mimetype"):
            vals["mimetype"] = mimetypes.guess_type(vals.get("name") or "")[0] or \
                "application/octet-stream"
        return vals

    reg.defaults["ir.attachment"] = attachment_defaults

    def nb_attachment(env, rid, model):
        found = env.store.lookup("ir.attachment", "res_id", rid) or set()
        return len([a for a in found if env.rec("ir.attachment", a).get("res_model") == model])

    for model_name, mdef in reg.models.items():
        if "nb_attachment" in mdef.fields:
            reg.computed[(model_name, "nb_attachment")] = (
                lambda env, rid, m=model_name: nb_attachment(env, rid, m))


def _name_matches(label: str, name: str, operator: str) -> bool:
    if operator in ("=", "=="):
        return label == name
    if operator == "=ilike":
        return label.lower() == name.lower()
    if operator == "like":
        return name in label
    if operator in ("not ilike", "not like"):
        return name.lower() not in label.lower()
    return name.lower() in label.lower()
