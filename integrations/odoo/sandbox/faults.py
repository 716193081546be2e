"""Fault-injection knobs, latency model and call statistics (all thread-safe).

Knobs (flags ``--name-with-dashes``, environment ``SANDBOX_NAME``, or JSON on
``POST /sandbox/control``):

- ``latency_ms``: fixed delay added to every RPC call, before the work.
- ``error_503_rate``: share of RPC calls answered ``503 Service Unavailable`` before the work.
- ``reset_rate``: share of RPC calls whose connection is reset (no answer) before the work.
- ``slow_rate`` / ``slow_s`` / ``slow_mode``: share of calls answered ``slow_s`` seconds late;
  ``slow_mode='after'`` does and commits the work, then waits, then answers;
  ``slow_mode='before'`` waits, then resets the connection without doing the work.
- ``drop_after_commit_rate`` / ``drop_after_commit_every``: do the work, commit, then reset
  the connection without answering (at random, and/or on every Nth eligible call, counted
  from start-up or from the control call that set the knob).
- ``fault_methods``: only calls whose method (``create``) or ``model.method``
  (``hr.expense.create``) is listed are eligible; empty = every RPC call.
- ``seed``: seed of the RNG that draws the random faults (reproducible runs).
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# realistic latency per profile, fitted to loopback-throughput.json of each version
LATENCY_MODELS = {
    "17": {"base_ms": 29.0, "per_record_ms": 3.9, "per_post_ms": 20.0},
    "19": {"base_ms": 34.0, "per_record_ms": 6.0, "per_post_ms": 20.0},
}


@dataclass
class Faults:
    """The current fault settings (see module docstring)."""

    latency_ms: float = 0.0
    error_503_rate: float = 0.0
    reset_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 0.0
    slow_mode: str = "after"
    drop_after_commit_rate: float = 0.0
    drop_after_commit_every: int = 0
    fault_methods: list[str] = field(default_factory=list)
    seed: int = 0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Faults:
        """Settings from ``SANDBOX_<KNOB>`` environment variables."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"SANDBOX_{f.name.upper()}")
            if raw not in (None, ""):
                values[f.name] = raw
        return cls().updated(values)

    def updated(self, values: dict[str, Any]) -> Faults:
        """A copy with ``values`` applied (strings are converted); unknown knobs raise."""
        current = asdict(self)
        known = {f.name: f for f in fields(self)}
        for key, raw in values.items():
            if key not in known:
                raise KeyError(f"unknown fault knob {key!r}")
            default = getattr(Faults(), key)
            if key == "fault_methods":
                current[key] = ([m.strip() for m in raw.split(",") if m.strip()]
                                if isinstance(raw, str) else list(raw or []))
            elif isinstance(default, bool):
                current[key] = str(raw).lower() in ("1", "true", "yes")
            elif isinstance(default, int) and not isinstance(default, bool):
                current[key] = int(float(raw))
            elif isinstance(default, float):
                current[key] = float(raw)
            else:
                current[key] = str(raw)
        if current["slow_mode"] not in ("after", "before"):
            raise ValueError("slow_mode must be 'after' or 'before'")
        return Faults(**current)


class FaultState:
    """Current settings, the seeded RNG, the Nth-call counter and the statistics."""

    def __init__(self, faults: Faults):
        self.lock = threading.Lock()
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.eligible = 0
        self.stats: Counter = Counter()
        self.by_method: Counter = Counter()
        self.injected: Counter = Counter()

    def configure(self, values: dict[str, Any]) -> Faults:
        """Apply knobs at run time; a new ``seed`` re-seeds the RNG, a new
        ``drop_after_commit_every`` / ``fault_methods`` restarts the Nth-call count."""
        with self.lock:
            self.faults = self.faults.updated(values)
            if "seed" in values:
                self.rng = random.Random(self.faults.seed)
            if {"drop_after_commit_every", "fault_methods"} & set(values):
                self.eligible = 0
            return self.faults

    def reset(self, faults: Faults | None = None) -> None:
        """Back to ``faults`` (default: none) with zeroed statistics."""
        with self.lock:
            self.faults = faults or Faults()
            self.rng = random.Random(self.faults.seed)
            self.eligible = 0
            self.stats.clear()
            self.by_method.clear()
            self.injected.clear()

    def decide(self, call_name: str) -> tuple[Faults, str | None]:
        """Settings and the fault to inject for this call: None, 'http_503', 'reset',
        'slow' or 'drop_after_commit'. Counts what it decides."""
        with self.lock:
            f = self.faults
            method = call_name.rsplit(".", 1)[-1]
            if f.fault_methods and call_name not in f.fault_methods and method not in f.fault_methods:
                return f, None
            self.eligible += 1
            kind = None
            draw = self.rng.random
            if f.error_503_rate and draw() < f.error_503_rate:
                kind = "http_503"
            elif f.reset_rate and draw() < f.reset_rate:
                kind = "reset"
            elif f.slow_rate and draw() < f.slow_rate:
                kind = "slow"
            elif (f.drop_after_commit_every and self.eligible % f.drop_after_commit_every == 0) or (
                    f.drop_after_commit_rate and draw() < f.drop_after_commit_rate):
                kind = "drop_after_commit"
            if kind:
                self.injected[kind] += 1
            return f, kind

    def count(self, endpoint: str, call_name: str, created: int) -> None:
        with self.lock:
            self.stats["calls"] += 1
            self.stats[f"endpoint:{endpoint}"] += 1
            self.stats["records_created"] += created
            if call_name:
                self.by_method[call_name] += 1

    def snapshot(self) -> dict:
        """Counts for ``GET /sandbox/stats``."""
        with self.lock:
            return {
                "calls": self.stats["calls"],
                "records_created": self.stats["records_created"],
                "by_endpoint": {k.split(":", 1)[1]: v for k, v in self.stats.items()
                                if k.startswith("endpoint:")},
                "by_method": dict(self.by_method),
                "faults_injected": {k: self.injected[k] for k in
                                    ("http_503", "reset", "slow", "drop_after_commit")},
                "faults": asdict(self.faults),
            }
