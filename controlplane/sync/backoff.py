"""When to try again: exponential back-off with full jitter, or a fixed schedule (Standard
Webhooks) with a little jitter. Pure functions; the randomness source can be injected."""

from __future__ import annotations

import random
from collections.abc import Sequence


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed try number ``attempt`` (1-based): uniformly drawn from
    ``[0, min(cap, base * 2**attempt)]`` ("full jitter"), so retries of many jobs that failed
    together spread out instead of coming back in waves."""
    rng = rng or random
    ceiling = min(cap, base * (2 ** min(attempt, 62)))
    return rng.uniform(0, ceiling)


def schedule_delay(attempt: int, schedule: Sequence[float], *, jitter: float = 0.1,
                   rng: random.Random | None = None) -> float | None:
    """Seconds to wait after failed try ``attempt`` under a fixed schedule: ``schedule[attempt-1]``
    within ±``jitter`` (fraction), or ``None`` once the schedule is exhausted (the job is dead)."""
    if attempt < 1 or attempt > len(schedule):
        return None
    rng = rng or random
    return schedule[attempt - 1] * rng.uniform(1 - jitter, 1 + jitter)
