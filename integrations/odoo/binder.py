"""Our id ↔ Odoo id, for one Odoo system.

The connector only needs the :class:`Binder` protocol; the Django side
implements it on its Binding table (unique on system + model + local id, and
on system + model + Odoo id). :class:`InMemoryBinder` serves tests and
scripts.

Keys: ``model`` is the Odoo model name (``"hr.employee"``, ``"hr.expense"``,
``"account.move"``); ``local_id`` is our identifier as a string (a primary
key, or a posting reference).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol


class Binder(Protocol):
    def odoo_ids(self, model: str, local_ids: Iterable[str]) -> dict[str, int]:
        """The Odoo ids bound to ``local_ids`` (missing ones are left out)."""

    def local_id(self, model: str, odoo_id: int) -> str | None:
        """Our id bound to ``odoo_id``, or ``None``."""

    def bind(self, model: str, local_id: str, odoo_id: int) -> None:
        """Record that ``local_id`` is ``odoo_id`` in Odoo. Binding the same pair
        again is a no-op; rebinding ``local_id`` to another id replaces it."""


class InMemoryBinder:
    """A thread-safe dictionary binder (tests, scripts)."""

    def __init__(self) -> None:
        self._by_local: dict[tuple[str, str], int] = {}
        self._by_odoo: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def odoo_ids(self, model: str, local_ids: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {lid: self._by_local[(model, lid)] for lid in local_ids
                    if (model, lid) in self._by_local}

    def local_id(self, model: str, odoo_id: int) -> str | None:
        with self._lock:
            return self._by_odoo.get((model, odoo_id))

    def bind(self, model: str, local_id: str, odoo_id: int) -> None:
        with self._lock:
            previous = self._by_local.get((model, local_id))
            if previous is not None:
                self._by_odoo.pop((model, previous), None)
            self._by_local[(model, local_id)] = odoo_id
            self._by_odoo[(model, odoo_id)] = local_id

    def __len__(self) -> int:
        return len(self._by_local)
