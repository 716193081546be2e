"""Prometheus metrics for Odoo calls.

``odoo_call_seconds{system,model,method,outcome}``: the latency of every remote call the
connector makes, labelled with the external system's code and the call's outcome (``ok``,
``none_result``, ``retryable``, ``unknown``, ``permanent``). Registered once, in the default
registry, so ``/metrics`` exposes it beside the other apps' metrics.
"""

from __future__ import annotations

from prometheus_client import Histogram

ODOO_CALL_SECONDS = Histogram(
    "odoo_call_seconds",
    "Latency of calls to Odoo, by system, model, method and outcome.",
    ["system", "model", "method", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe_call(*, system: str, model: str, method: str, outcome: str, seconds: float) -> None:
    """Record one call's latency."""
    ODOO_CALL_SECONDS.labels(system=system, model=model, method=method, outcome=outcome).observe(seconds)
