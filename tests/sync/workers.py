"""Real processes for the sync tests: Celery workers (``celery -A controlplane worker``), a
beat process running the relay, and a private ``redis-server`` a test may kill.

The processes use the test database (PostgreSQL, committed data: ``transaction=True``) and
import the test-only handlers via ``SYNC_EXTRA_HANDLER_MODULES``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.db import connection

REPO = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
QUEUES = "default,odoo,webhooks,files"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database the tests run on (pytest-django's ``test_<name>``)."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(broker_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
        "SYNC_EXTRA_HANDLER_MODULES": "controlplane.sync.testing",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(REPO),
    })
    env.update(extra)
    return env


def wait_until(predicate, timeout: float, interval: float = 0.2, message: str = "condition") -> None:
    """Poll until ``predicate()`` is truthy; fail after ``timeout`` seconds (a deadline, not a
    timing assertion: the test asserts on the final state)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class Proc:
    """A subprocess in its own process group, logging to a file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.cmd, self.env = name, cmd, env
        self.log_path = Path(log_dir) / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        log = open(self.log_path, "ab")  # noqa: SIM115 — owned by the process for its lifetime
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill_group(self) -> None:
        """SIGKILL the main process and all its children at once."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
        except ProcessLookupError:
            pass

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def worker(name: str, broker_url: str, log_dir: Path, *, concurrency: int = 2, **env: str) -> Proc:
    cmd = [CELERY, "-A", "controlplane", "worker", "-Q", QUEUES, "-c", str(concurrency), "-P", "prefork",
           "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    return Proc(name, cmd, process_env(broker_url, **env), log_dir)


def beat(broker_url: str, log_dir: Path, *, database_schedule: bool = False, **env: str) -> Proc:
    """Celery beat with the code schedule only (the relay), state file in ``log_dir``; with
    ``database_schedule`` the production scheduler instead (django-celery-beat: the relay plus
    the sync policies' batch windows stored in the database)."""
    scheduler = ["-S", "django_celery_beat.schedulers:DatabaseScheduler"] if database_schedule else [
        "-S", "celery.beat:PersistentScheduler", "-s", str(Path(log_dir) / "beat-schedule")]
    cmd = [CELERY, "-A", "controlplane", "beat", *scheduler, "-l", "INFO"]
    return Proc("beat", cmd, process_env(broker_url, **env), log_dir)


class RedisServer:
    """A private redis-server on a free port, which a test may stop and start again."""

    def __init__(self, work_dir: Path):
        self.port = free_port()
        self.dir = Path(work_dir)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen(
            # No persistence: a restart loses every queued message, which the relay must make up for.
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )
        import redis

        wait_until(lambda: self._ping(redis), timeout=20, message="redis-server to answer")
        return self

    def _ping(self, redis) -> bool:
        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
