"""Method registry and dispatch: what ``execute_kw(model, method, args, kwargs)`` does.

A ``Registry`` holds, per profile, the models, the public methods (generic ORM
methods under ``'*'`` plus model-specific workflow methods) and the hooks the
business modules plug in (defaults, computed fields, guards, display names).
``call`` applies Odoo's dispatch rules and faults in Odoo's order: unknown
model, private method, unknown method, record rules, missing records.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import access
from .errors import AccessError, UserError
from .schema import ModelDef, load_models


@dataclass
class Method:
    """A public method. ``api_model`` methods take no ids; ``needs_ids`` checks they exist."""

    func: Callable
    api_model: bool = False
    needs_ids: bool = True

    def params(self) -> list[inspect.Parameter]:
        """The Odoo-visible parameters (without env, model and ids)."""
        skip = 2 if self.api_model else 3
        return list(inspect.signature(self.func).parameters.values())[skip:]


@dataclass
class Registry:
    """Everything profile-specific: models, methods and hooks."""

    profile: str
    models: dict[str, ModelDef]
    methods: dict[str, dict[str, Method]] = field(default_factory=dict)
    defaults: dict[str, Callable] = field(default_factory=dict)
    after_create: dict[str, Callable] = field(default_factory=dict)
    before_write: dict[str, Callable] = field(default_factory=dict)
    after_write: dict[str, Callable] = field(default_factory=dict)
    before_unlink: dict[str, Callable] = field(default_factory=dict)
    display: dict[str, Callable] = field(default_factory=dict)
    computed: dict[tuple[str, str], Callable] = field(default_factory=dict)

    def method(self, model: str, name: str | None = None, api_model: bool = False,
               needs_ids: bool = True) -> Callable:
        """Decorator registering ``func`` as public method ``name`` of ``model`` ('*' = all)."""
        def deco(func: Callable) -> Callable:
            self.methods.setdefault(model, {})[name or func.__name__] = Method(
                func, api_model, needs_ids)
            return func
        return deco

    def lookup(self, model: str, name: str) -> Method | None:
        return self.methods.get(model, {}).get(name) or self.methods.get("*", {}).get(name)


def private_message(profile: str, model: str, method: str) -> str:
    if profile == "19":
        return f"Private methods (such as '{model}.{method}') cannot be called remotely."
    return f"Private methods (such as {method}) cannot be called remotely."


def unknown_method_error(profile: str, model: str, method: str) -> AttributeError:
    if profile == "19":
        return AttributeError(f"The method '{model}.{method}' does not exist")
    return AttributeError(f"type object '{model}' has no attribute '{method}'")


def normalize_ids(ids: Any) -> list[int]:
    if ids is None or ids is False:
        return []
    if isinstance(ids, (list, tuple)):
        return list(ids)
    return [ids]


def resolve(env: Any, model: str, method: str) -> Method:
    """The Method object, or the fault Odoo gives for an unknown model/private/unknown method."""
    if method.startswith("_"):
        raise AccessError(private_message(env.profile, model, method))
    if model not in env.models:
        raise UserError(f"Object {model} doesn't exist")
    entry = env.registry.lookup(model, method)
    if entry is None:
        raise unknown_method_error(env.profile, model, method)
    return entry


def call(env: Any, model: str, method: str, args: list, kwargs: dict | None) -> Any:
    """Run one ``execute_kw``: positional ``args`` (ids first for record methods), ``kwargs``."""
    kwargs = dict(kwargs or {})
    if "context" in kwargs:
        env.context.update(kwargs.pop("context") or {})
    entry = resolve(env, model, method)
    args = list(args or [])
    if entry.api_model:
        return entry.func(env, model, *args, **kwargs)
    ids = normalize_ids(args.pop(0) if args else kwargs.pop("ids", []))
    return call_records(env, model, entry, ids, args, kwargs)


def call_records(env: Any, model: str, entry: Method, ids: list[int], args: list,
                 kwargs: dict) -> Any:
    """Record-rule and existence checks, then the method itself."""
    for rid in ids:
        if not isinstance(rid, int) or isinstance(rid, bool):
            from .orm import InvalidTextRepresentation
            raise InvalidTextRepresentation(f'invalid input syntax for type integer: "{rid}"')
    access.check_records(env, model, ids, "read")
    if entry.needs_ids:
        env.ensure(model, ids)
    return entry.func(env, model, ids, *args, **kwargs)


def build_registry(profile: str) -> Registry:
    """The registry of a profile ('17' or '19') with all modules plugged in."""
    from . import accounting, base_methods, expense17, expense19, invoices, seed_display

    reg = Registry(profile, load_models(profile))
    base_methods.register(reg)
    seed_display.register(reg)
    accounting.register(reg)
    invoices.register(reg)
    if profile == "17":
        expense17.register(reg)
    else:
        expense19.register(reg)
    return reg
