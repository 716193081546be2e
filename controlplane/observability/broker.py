"""What we can ask the Celery broker cheaply: its kind, whether it answers, queue lengths.

Redis: ``PING`` and ``LLEN <queue>`` (kombu keeps each queue as a list named after it).
The embedded filesystem transport: its folders exist and are writable (messages are files).
Every network call has a short timeout: a dashboard or a probe must never hang on the broker.
"""

from __future__ import annotations

import os
from pathlib import Path

import redis
from django.conf import settings

TIMEOUT_S = 2.0


def broker_url() -> str:
    return getattr(settings, "CELERY_BROKER_URL", "") or ""


def kind() -> str:
    """``redis``, ``filesystem``, ``memory`` or the URL scheme."""
    scheme = broker_url().split("://", 1)[0].lower()
    return "redis" if scheme in ("redis", "rediss") else scheme


def queue_names() -> tuple[str, ...]:
    return tuple(getattr(settings, "CELERY_TASK_QUEUES_NAMES", ("default",)))


def _client(timeout: float) -> redis.Redis:
    return redis.Redis.from_url(broker_url(), socket_timeout=timeout, socket_connect_timeout=timeout)


def queue_lengths(timeout: float = 0.5) -> dict[str, int | None]:
    """Messages waiting in each broker queue (Redis only; empty for other transports; None
    per queue when Redis does not answer)."""
    if kind() != "redis":
        return {}
    client = _client(timeout)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queue_names():
            pipe.llen(queue)
        return dict(zip(queue_names(), pipe.execute(), strict=True))
    except redis.RedisError:
        return {queue: None for queue in queue_names()}
    finally:
        client.close()


def check(timeout: float = TIMEOUT_S) -> dict:
    """Readiness of the broker: ``{"ok": bool, "kind": ..., "detail": ...}``."""
    broker_kind = kind()
    if broker_kind == "redis":
        client = _client(timeout)
        try:
            client.ping()
            return {"ok": True, "kind": broker_kind}
        except redis.RedisError as exc:
            return {"ok": False, "kind": broker_kind, "detail": f"{type(exc).__name__}: {exc}"}
        finally:
            client.close()
    if broker_kind == "filesystem":
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        folders = {options.get(k) for k in ("data_folder_in", "data_folder_out") if options.get(k)}
        missing = [f for f in sorted(folders) if not (Path(f).is_dir() and os.access(f, os.W_OK))]
        if missing:
            return {"ok": False, "kind": broker_kind, "detail": f"folder missing or not writable: {', '.join(missing)}"}
        return {"ok": True, "kind": broker_kind}
    if broker_kind == "memory":
        return {"ok": True, "kind": broker_kind, "detail": "in-process transport"}
    return {"ok": False, "kind": broker_kind, "detail": "no readiness check for this transport"}
