"""The correlation id: one id from an API request or inbound webhook through the outbox row,
the Celery task and every Odoo call, carried in a context variable and written in every log."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

_correlation: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def get_correlation_id() -> str:
    """The current correlation id, or ``""`` outside any request or task."""
    return _correlation.get()


@contextmanager
def correlation(correlation_id: str | None) -> Iterator[str]:
    """Run a block under ``correlation_id`` (a new one when None or empty)."""
    value = correlation_id or new_correlation_id()
    token = _correlation.set(value)
    try:
        yield value
    finally:
        _correlation.reset(token)
