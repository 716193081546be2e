"""Who is acting: a person (Django user) or an external system, with a reason.

Every service takes an :class:`Actor` explicitly. While a service runs, :func:`acting` puts
the actor in a context variable so that the audit history (django-simple-history) records
who, from which system, why, and under which correlation id — also outside HTTP requests
(Celery tasks, management commands).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

_current: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("controlplane_actor", default=None)


@dataclass(frozen=True)
class Actor:
    """The acting party. Exactly one of ``user`` / ``system`` is usually set;
    ``system_code`` names the external system (or ``"controlplane"`` for our own workers)."""

    user: Any = None
    system: Any = None
    reason: str = ""

    @property
    def system_code(self) -> str:
        if self.system is None:
            return ""
        return getattr(self.system, "code", str(self.system))

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "pk", None)

    def label(self) -> str:
        """Human-readable: ``"alice"``, ``"system:concur"`` or ``"alice via concur"``."""
        user = getattr(self.user, "get_username", lambda: "")() if self.user is not None else ""
        if user and self.system_code:
            return f"{user} via {self.system_code}"
        if user:
            return user
        if self.system_code:
            return f"system:{self.system_code}"
        return "controlplane"

    def because(self, reason: str) -> Actor:
        """The same actor with another reason."""
        return replace(self, reason=reason)


def current_actor() -> Actor | None:
    """The actor of the running service call, if any."""
    return _current.get()


@contextmanager
def acting(actor: Actor, reason: str | None = None) -> Iterator[Actor]:
    """Run a block as ``actor`` (optionally with another reason); history rows written in
    the block name this actor and reason."""
    effective = actor.because(reason) if reason is not None else actor
    token = _current.set(effective)
    try:
        yield effective
    finally:
        _current.reset(token)
