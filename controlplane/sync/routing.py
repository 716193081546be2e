"""Celery routing (``task_routes``): dispatch messages go to the queue of their operation's
registration; the relay and batch windows to ``default``."""

from __future__ import annotations

from controlplane.sync import registry

DISPATCH_TASK = "controlplane.sync.tasks.dispatch_task"


def route_task(name, args, kwargs, options, task=None, **kw):
    if name == DISPATCH_TASK:
        operation = (kwargs or {}).get("operation") or (args[0] if args else "")
        return {"queue": registry.queue_for(operation)}
    if name.startswith("controlplane.sync.tasks."):
        return {"queue": "default"}
    return None
