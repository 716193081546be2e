"""Test-wide configuration.

Tests marked ``postgres`` or ``redis`` need the real server: they run when DATABASE_URL
points at PostgreSQL / CELERY_BROKER_URL at Redis (as ``.ci/run`` sets), and are otherwise
deselected with a printed count and the variables that enable them — never silently skipped.
"""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "200")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _available() -> dict[str, tuple[bool, str]]:
    db = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    browser = bool(shutil.which("chromium") and shutil.which("chromedriver"))
    return {
        "postgres": (db.startswith(("postgres://", "postgresql://")), "DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"),
        "redis": (broker.startswith("redis://"), "CELERY_BROKER_URL=redis://127.0.0.1:6379/0"),
        "browser": (browser, "apt-get install chromium chromium-driver"),
    }


_deselected: dict[str, int] = {}


def pytest_collection_modifyitems(config, items):
    available = _available()
    keep, drop = [], []
    for item in items:
        missing = [m for m, (ok, _) in available.items() if not ok and item.get_closest_marker(m)]
        if missing:
            drop.append(item)
            for m in missing:
                _deselected[m] = _deselected.get(m, 0) + 1
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter):
    if not _deselected:
        return
    available = _available()
    terminalreporter.section("deselected: services not configured")
    for marker, count in sorted(_deselected.items()):
        terminalreporter.write_line(f"{count} test(s) marked '{marker}' deselected; enable with {available[marker][1]}")


@pytest.fixture
def actor(db):
    """A staff user acting in the admin."""
    from controlplane.core.actors import Actor
    from tests.factories import UserFactory

    return Actor(user=UserFactory(is_staff=True), reason="test")
