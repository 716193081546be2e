"""A short-lived memo for reads that many items of one bulk call repeat (routing policies,
category accounting, webhook subscriptions, the Odoo system of an entity…).

Outside a :func:`request_memo` block :func:`memoized` computes every time, so single-item
services behave exactly as before. Inside, each key is computed once and kept until the
outermost block ends: nothing outlives the call that opened it (no cross-request staleness),
and within it a value is as fresh as its first read. Only memoize reads that the block
itself does not write.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_store: contextvars.ContextVar[dict | None] = contextvars.ContextVar("controlplane_memo", default=None)


@contextmanager
def request_memo() -> Iterator[None]:
    """Memoize :func:`memoized` reads until the outermost such block ends (nested blocks share it)."""
    if _store.get() is not None:
        yield
        return
    token = _store.set({})
    try:
        yield
    finally:
        _store.reset(token)


def memo_active() -> bool:
    """Whether a :func:`request_memo` block is open."""
    return _store.get() is not None


def memoized(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` — once per ``key`` inside a :func:`request_memo` block, every time outside."""
    store = _store.get()
    if store is None:
        return compute()
    try:
        return store[key]
    except KeyError:
        value = store[key] = compute()
        return value
