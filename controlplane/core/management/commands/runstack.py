"""Run the whole stack in the foreground: web server, Celery worker and beat (and, with
``--sandbox``, the bundled Odoo sandbox). Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY", "2")))
        parser.add_argument("--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8069")))
        parser.add_argument("--no-sandbox", action="store_true", help="Do not start the bundled Odoo sandbox.")

    def handle(self, *args, **opts):
        py = sys.executable
        queues = ",".join(settings.CELERY_TASK_QUEUES_NAMES)
        commands = {
            "web": [py, "-m", "gunicorn", "controlplane.wsgi:application", "--bind", f"{opts['host']}:{opts['port']}",
                    "--workers", "2", "--access-logfile", "-"],
            "worker": [py, "-m", "celery", "-A", "controlplane", "worker", "-Q", queues,
                       "--concurrency", str(opts["concurrency"]), "--loglevel", "INFO"],
            "beat": [py, "-m", "celery", "-A", "controlplane", "beat", "--loglevel", "INFO"],
        }
        sandbox_db = settings.BASE_DIR / "var" / "odoo-sandbox.sqlite3"
        if not opts["no_sandbox"] and not os.environ.get("ODOO_URL"):
            commands = {
                "odoo-sandbox": [py, "-m", "integrations.odoo.sandbox", "--host", "127.0.0.1",
                                 "--port", str(opts["sandbox_port"]), "--db-path", str(sandbox_db)],
                **commands,
            }
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, start_new_session=True)
            self.stdout.write(f"started {name} (pid {procs[name].pid})")
        self.stdout.write(self.style.SUCCESS(
            f"\nAdmin: http://{opts['host']}:{opts['port']}/admin/   API docs: http://{opts['host']}:{opts['port']}/api/docs/\n"
            "Demo logins are printed by `manage.py seed_demo`. Ctrl-C stops everything.\n"
        ))
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping the stack")
                        stopping = True
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            deadline = time.time() + 15
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            self.stdout.write("stack stopped")
