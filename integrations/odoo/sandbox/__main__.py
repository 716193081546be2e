"""Command line: ``python -m integrations.odoo.sandbox --port 8069 --db-path sandbox.sqlite3``.

Every flag also reads ``SANDBOX_<NAME>`` from the environment (flags win).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import fields

from .app import Sandbox
from .faults import Faults, FaultState
from .seed import DEFAULT_API_KEY
from .server import SandboxServer


def _env(name: str, default: str) -> str:
    return os.environ.get(f"SANDBOX_{name.upper()}", default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse flags; defaults come from the environment, then from Odoo's defaults."""
    p = argparse.ArgumentParser(prog="python -m integrations.odoo.sandbox",
                                description="An Odoo 17.0 / 19.0 look-alike for tests and demos.")
    p.add_argument("--host", default=_env("host", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(_env("port", "8069")))
    p.add_argument("--db-path", default=_env("db_path", "odoo-sandbox.sqlite3"),
                   help="SQLite file holding the state (seeded when empty)")
    p.add_argument("--db", default=_env("db", "sandbox"), help="database name clients must use")
    p.add_argument("--profile", choices=["17", "19"], default=_env("profile", "17"))
    p.add_argument("--latency", choices=["none", "realistic"], default=_env("latency", "none"))
    p.add_argument("--workers", type=int, default=int(_env("workers", "2")))
    p.add_argument("--api-key", default=_env("api_key", DEFAULT_API_KEY))
    p.add_argument("--log-level", default=_env("log_level", "WARNING"))
    env_faults = Faults.from_env()
    for f in fields(Faults):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(env_faults, f.name)
        if f.name == "fault_methods":
            p.add_argument(flag, default=",".join(default), help="comma-separated method names")
        else:
            p.add_argument(flag, type=type(default), default=default)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the server and serve until SIGTERM / SIGINT."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faults = Faults().updated({f.name: getattr(args, f.name) for f in fields(Faults)})
    app = Sandbox(args.db_path, profile=args.profile, db=args.db, api_key=args.api_key)
    server = SandboxServer((args.host, args.port), app, FaultState(faults), latency=args.latency,
                           workers=args.workers, initial=faults)

    def stop(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"odoo-sandbox {args.profile}.0 listening on http://{host}:{port} db={args.db} "
          f"file={args.db_path}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
