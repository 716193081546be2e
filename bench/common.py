"""Helpers shared by the benchmark runner: peak memory of a process group, a fresh database
per run, and the JSON line each benchmark process prints last."""

from __future__ import annotations

import json
import os
from pathlib import Path

from controlplane.demo.pg import drop_postgres, fresh_postgres_url  # noqa: F401 - re-exported


def group_peak_rss_mb(pgid: int) -> float:
    """The largest peak resident set (VmHWM) among the live processes of process group ``pgid``, in MiB."""
    peak = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid:  # field 5 of /proc/<pid>/stat: the process group
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return round(peak / 1024, 1)


def last_json(text: str) -> dict | None:
    """The JSON object on the last non-empty line of ``text``, if there is one."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line:
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
