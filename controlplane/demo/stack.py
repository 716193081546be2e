"""The whole stack as child processes: Odoo sandbox, web server, Celery workers and beat.

    stack = Stack(var_dir, web_port=free_port(), workers=2)
    stack.start()            # returns when the web server and the sandbox answer
    ...
    stack.stop()             # SIGTERM to every process group, SIGKILL after a grace period

Used by ``manage.py runstack`` (foreground, Ctrl-C), the one-shot demo and the benchmarks.
Children inherit the environment, so ``CONTROLPLANE_VAR_DIR`` / ``DATABASE_URL`` /
``CELERY_BROKER_URL`` set by the caller apply to all of them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from integrations.odoo.sandbox.testing import SandboxProcess

QUEUES = "default,odoo,webhooks,files"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_http(url: str, *, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Return once ``url`` answers 200; raise RuntimeError on timeout or when ``proc`` dies."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s ({last})")


@dataclass
class Stack:
    """Child processes of one control-plane stack, each in its own process group, logs in ``log_dir``."""

    var_dir: Path
    host: str = "127.0.0.1"
    web_port: int = 8000
    web_workers: int = 3
    workers: int = 1
    concurrency: int = 2
    sandbox: bool = True
    sandbox_port: int | None = None
    sandbox_latency: str = "none"
    sandbox_profile: str = "17"
    sandbox_db: Path | None = None
    log_dir: Path | None = None
    foreground_logs: bool = False
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None
    odoo: SandboxProcess | None = None

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def _logs(self) -> Path:
        path = Path(self.log_dir or self.var_dir / "logs")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start_sandbox(self) -> SandboxProcess:
        """Start the bundled Odoo sandbox (once); its state lives in ``sandbox_db``."""
        if self.odoo is None:
            db_path = self.sandbox_db or self.var_dir / f"odoo-sandbox-{self.sandbox_profile}.sqlite3"
            self.odoo = SandboxProcess(self._logs(), profile=self.sandbox_profile, latency=self.sandbox_latency,
                                       port=self.sandbox_port, db_path=str(db_path))
            self.odoo.start(timeout=30)
        return self.odoo

    def commands(self) -> dict[str, list[str]]:
        py = sys.executable
        cmds = {
            "web": [py, "-m", "gunicorn", "controlplane.wsgi:application", "--bind", f"{self.host}:{self.web_port}",
                    "--workers", str(self.web_workers), "--timeout", "600", "--graceful-timeout", "5",
                    "--access-logfile", "-" if self.foreground_logs else str(self._logs() / "web-access.log")],
            "beat": [py, "-m", "celery", "-A", "controlplane", "beat", "--loglevel", "INFO",
                     "--schedule", str(self.var_dir / "celerybeat-schedule")],
        }
        for n in range(1, self.workers + 1):
            cmds[f"worker{n}"] = [py, "-m", "celery", "-A", "controlplane", "worker", "-Q", QUEUES,
                                  "--concurrency", str(self.concurrency), "--loglevel", "INFO",
                                  "-n", f"worker{n}-{os.getpid()}@%h", "--without-gossip", "--without-mingle"]
        return cmds

    def _spawn(self, name: str, cmd: list[str]) -> None:
        if self.foreground_logs:
            out = None
        else:
            out = open(self._logs() / f"{name}.log", "ab")  # noqa: SIM115 - the child holds it
        env = None
        if name == "web":
            # As in production: keep database connections between requests (checked before reuse).
            env = {**os.environ, "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60")}
        self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if out else None,
                                            start_new_session=True, env=env)
        if out is not None:
            out.close()

    def start(self, *, ready_timeout: float = 90.0) -> Stack:
        """Start the sandbox (if wanted), the web server, the workers and beat; wait for the web server."""
        if self.sandbox:
            self.start_sandbox()
        for name, cmd in self.commands().items():
            self._spawn(name, cmd)
        wait_http(f"{self.web_url}/health/", timeout=ready_timeout, proc=self.procs["web"])
        return self

    def dead(self) -> list[str]:
        """Names of child processes that exited."""
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def revive(self) -> list[str]:
        """Start again every child that exited (a supervisor's job: a crashed worker loses no work,
        its jobs are rows the relay wakes again); returns the names restarted."""
        dead = self.dead()
        commands = self.commands()
        for name in dead:
            self.restarts[name] = self.restarts.get(name, 0) + 1
            self._spawn(name, commands[name])
        return dead

    def pid_of(self, name: str) -> int | None:
        proc = self.procs.get(name)
        return proc.pid if proc else None

    def supervise(self, *, interval: float = 1.0, log=print) -> None:
        """Restart crashed children in a background thread until :meth:`stop`."""

        def loop() -> None:
            while not self._stopping.wait(interval):
                for name in self.revive():
                    log(f"{name} exited; restarted it (restart #{self.restarts[name]})")

        self._supervisor = threading.Thread(target=loop, name="stack-supervisor", daemon=True)
        self._supervisor.start()

    def stop(self, *, grace: float = 20.0) -> None:
        """Stop every child (SIGTERM to its process group, SIGKILL after ``grace`` seconds), then the sandbox."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()
        if self.odoo is not None:
            self.odoo.stop()
            self.odoo = None


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
