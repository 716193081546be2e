"""Run the sandbox as a subprocess from tests, benchmarks or the demo.

    from integrations.odoo.sandbox.testing import run_sandbox

    with run_sandbox(tmp_path, profile="17", latency="none") as odoo:
        models = xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/object")
        uid = ...  # odoo.login / odoo.password / odoo.db / odoo.api_key
        odoo.control(drop_after_commit_every=3)   # change faults at run time
        odoo.stats()                              # call and fault counters
        odoo.stop(); odoo.start()                 # restart on the same file and port

Extra keyword arguments of ``run_sandbox`` are fault knobs (see ``faults.py``)
passed as command-line flags, e.g. ``run_sandbox(tmp, reset_rate=0.1, seed=7)``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .seed import DEFAULT_API_KEY

_REPO_ROOT = Path(__file__).resolve().parents[3]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class SandboxProcess:
    """A running sandbox subprocess and what a client needs to reach it.

    Attributes: ``url`` (``http://127.0.0.1:<port>``), ``host``, ``port``, ``db``,
    ``login``, ``password``, ``api_key``, ``profile``, ``db_path``, ``log_path``.
    """

    def __init__(self, tmp_dir: str | os.PathLike, profile: str = "17", latency: str = "none",
                 workers: int = 2, port: int | None = None, db_path: str | None = None,
                 **faults: Any):
        self.tmp_dir = Path(tmp_dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.profile = str(profile)
        self.latency = latency
        self.workers = workers
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.db_path = str(db_path or self.tmp_dir / f"odoo-sandbox-{self.profile}.sqlite3")
        self.log_path = self.tmp_dir / f"odoo-sandbox-{self.port}.log"
        self.db, self.login, self.password, self.api_key = "sandbox", "admin", "admin", DEFAULT_API_KEY
        self.faults = faults
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "integrations.odoo.sandbox", "--host", self.host,
               "--port", str(self.port), "--db-path", self.db_path, "--profile", self.profile,
               "--latency", self.latency, "--workers", str(self.workers), "--api-key", self.api_key]
        for knob, value in self.faults.items():
            if isinstance(value, (list, tuple)):
                value = ",".join(value)
            cmd += ["--" + knob.replace("_", "-"), str(value)]
        return cmd

    def start(self, timeout: float = 15.0) -> SandboxProcess:
        """Start (or restart) the server on the same file and port; waits until it answers."""
        if self._proc and self._proc.poll() is None:
            return self
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        env = {k: v for k, v in env.items() if not k.startswith("SANDBOX_")}
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it until stop()
        self._proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT,
                                      env=env, cwd=str(_REPO_ROOT))
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"sandbox exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                self._get("/sandbox/health", timeout=0.5)
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"sandbox did not answer on {self.url}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL); its state stays in ``db_path``."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """Kill the server abruptly (SIGKILL), as a crash would."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
        self._proc = None

    # -- control endpoint ------------------------------------------------------------------
    def _get(self, path: str, timeout: float = 5.0) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
            return json.loads(resp.read())

    def _post(self, path: str, payload: dict) -> Any:
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5.0) as resp:
            return json.loads(resp.read())

    def control(self, **faults: Any) -> dict:
        """Change fault knobs at run time (e.g. ``reset_rate=0.2``); returns the new settings."""
        return self._post("/sandbox/control", faults)

    def reset_faults(self) -> dict:
        """No faults any more, statistics zeroed."""
        return self._post("/sandbox/reset", {})

    def stats(self) -> dict:
        """Call counts, records created and faults injected so far."""
        return self._get("/sandbox/stats")


@contextlib.contextmanager
def run_sandbox(tmp_dir: str | os.PathLike, profile: str = "17", latency: str = "none",
                **faults: Any) -> Iterator[SandboxProcess]:
    """Start a sandbox subprocess on a free port, yield it, stop it on exit.

    ``workers``, ``port`` and ``db_path`` may be given too; any other keyword is a
    fault knob passed as a command-line flag.
    """
    options = {k: faults.pop(k) for k in ("workers", "port", "db_path") if k in faults}
    proc = SandboxProcess(tmp_dir, profile=profile, latency=latency, **options, **faults)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
