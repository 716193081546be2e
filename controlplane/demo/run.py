"""The one-shot demo: bring the stack up in a fresh directory, play the outside world through
the public API, let the workers post to Odoo, and summarise.

    python -m controlplane.demo            # make demo; DEMO_EXPENSES=300 by default

Configuration (environment): ``DEMO_EXPENSES`` (300), ``DEMO_WORKERS`` (2 worker processes),
``DEMO_CLIENTS`` (6 concurrent API clients), ``DEMO_POST_WINDOW_S`` (5: the posting batch
window), ``DEMO_TIMEOUT_S`` (900: how long postings may take), ``DEMO_SEED`` (7),
``DEMO_SANDBOX_LATENCY`` (none|realistic), ``DEMO_VAR_DIR`` (default: a new temporary
directory, kept afterwards), ``DEMO_DATABASE_URL`` / ``DEMO_BROKER_URL`` (PostgreSQL / Redis
instead of the embedded defaults), ``ODOO_URL``... (a real Odoo instead of the sandbox).
The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def prepare_environment(var_dir: Path, *, database_url: str = "", broker_url: str = "") -> None:
    """Point this process and every child at ``var_dir`` (SQLite and the filesystem broker unless
    URLs are given). Must run before Django is set up."""
    os.environ["CONTROLPLANE_VAR_DIR"] = str(var_dir)
    # Never inherit a caller's profile (pytest's test settings give each process its own media
    # directory: the workers would not find the receipts the web server stored).
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("DEMO_SETTINGS_MODULE", "controlplane.settings.base")
    os.environ.pop("MEDIA_ROOT", None)
    for name, value in (("DATABASE_URL", database_url), ("CELERY_BROKER_URL", broker_url)):
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)
    # The demo's own clients are the only callers: the per-caller guard would only slow them.
    os.environ.setdefault("API_THROTTLE_RATE", "100000/s")
    os.environ.setdefault("SYNC_RELAY_INTERVAL_SECONDS", "3")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def log(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> int:
    started = time.monotonic()
    count = env_int("DEMO_EXPENSES", 300)
    var_dir = Path(os.environ.get("DEMO_VAR_DIR") or tempfile.mkdtemp(prefix="controlplane-demo-"))
    var_dir.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DEMO_DATABASE_URL", "")
    if database_url.startswith(("postgres://", "postgresql://")):
        from controlplane.demo.pg import fresh_postgres_url

        database_url, name = fresh_postgres_url(database_url)  # kept afterwards, like the directory
        log(f"PostgreSQL database {name}")
    prepare_environment(var_dir, database_url=database_url, broker_url=os.environ.get("DEMO_BROKER_URL", ""))
    import django

    django.setup()
    import logging

    # The filesystem transport has no host; kombu says so once per connection.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    from controlplane.demo.scenario import Scenario

    log(f"var dir {var_dir}; {count} expenses")
    scenario = Scenario(var_dir=var_dir, count=count, log=log)
    try:
        result = scenario.run()
    finally:
        scenario.stop()
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["var_dir"] = str(var_dir)
    log(f"kept {var_dir}; open the admin on it with:")
    db = f"DATABASE_URL={database_url} " if database_url else ""
    print(f"    {db}CONTROLPLANE_VAR_DIR={var_dir} .venv/bin/python manage.py runserver   "
          f"# then http://127.0.0.1:8000/admin/ as admin / demo-pass-1234", flush=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
