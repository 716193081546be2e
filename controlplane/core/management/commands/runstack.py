"""Run the whole stack in the foreground: the bundled Odoo sandbox (unless ``ODOO_URL`` points
at a real Odoo or ``--no-sandbox``), the web server, a Celery worker and beat. At start the
``odoo`` system is pointed at the sandbox, the workers import Odoo's master data and export
the demo employees. Crashed children are restarted; Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from controlplane.core.actors import Actor
from controlplane.demo import odoo_setup
from controlplane.demo.seed import DEMO_PASSWORD
from controlplane.demo.stack import Stack
from controlplane.settings.env import VAR_DIR


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
        parser.add_argument("--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8069")))
        parser.add_argument("--sandbox-latency", default=os.environ.get("SANDBOX_LATENCY", "none"))
        parser.add_argument("--post-every", type=int, default=int(os.environ.get("POST_WINDOW_S", "60")),
                            help="Seconds between ledger posting windows (odoo.post_expense).")
        parser.add_argument("--no-sandbox", action="store_true", help="Do not start the bundled Odoo sandbox.")
        parser.add_argument("--no-bootstrap", action="store_true", help="Skip the Odoo import / employee export.")

    def handle(self, *args, **opts):
        actor = Actor(reason="runstack")
        sandbox = not opts["no_sandbox"] and not odoo_setup.real_odoo()
        stack = Stack(var_dir=VAR_DIR, host=opts["host"], web_port=opts["port"], concurrency=opts["concurrency"],
                      sandbox=sandbox, sandbox_port=opts["sandbox_port"], sandbox_latency=opts["sandbox_latency"],
                      sandbox_db=VAR_DIR / "odoo-sandbox.sqlite3")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if sandbox:
                self.stdout.write(f"Odoo sandbox at {stack.start_sandbox().url}")
            system = None
            if sandbox or odoo_setup.real_odoo():
                system = odoo_setup.odoo_configure(actor=actor, sandbox=stack.odoo)
                self.stdout.write(f"Odoo system '{system.code}': {system.endpoint} ({system.database})")
            odoo_setup.sync_windows(actor=actor, post_every_s=opts["post_every"], readback_every_s=300)
            connections.close_all()
            stack.start()
            stack.supervise(log=self.stdout.write)
            self.stdout.write(f"web, worker and beat started; logs in {stack._logs()}")
            if system is not None and not opts["no_bootstrap"]:
                try:
                    odoo_setup.bootstrap(actor=actor, system=system, log=self.stdout.write)
                except (RuntimeError, TimeoutError) as exc:
                    self.stderr.write(f"Odoo bootstrap did not finish: {exc} (see the outbox in the admin)")
            url = f"http://{opts['host']}:{opts['port']}"
            self.stdout.write(self.style.SUCCESS(
                f"\nAdmin: {url}/admin/  (admin / {DEMO_PASSWORD}; other logins: `manage.py seed_demo`)\n"
                f"API docs: {url}/api/docs/   metrics: {url}/metrics   health: {url}/health/ready\n"
                f"Database: {settings.DATABASES['default']['NAME']}\nCtrl-C stops everything.\n"))
            while not stopping:
                time.sleep(0.5)
        finally:
            stack.stop()
            self.stdout.write("stack stopped")
