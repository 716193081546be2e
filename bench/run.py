"""The benchmark suite: ``make bench`` (``python -m bench.run``); ``BENCH_QUICK=1`` for a smoke run.

Runs, one after the other on this machine, and prints one table of ratios measured in this run:

- the API engineer's ``bench/api/run.py`` (on a scratch directory or database) and the Odoo
  engineer's ``bench/odoo/run.py``, with shorter arguments under ``BENCH_QUICK`` (see ``PEERS``);
  a last output line that is a JSON object of ``{"figure": {"value", "unit", "baseline",
  "baseline_unit", "ratio", "note"}}`` becomes rows of the table, else its plain table does;
- end to end (``bench.e2e``) at two sizes, 1,000 and 10,000 expenses (quick: 50 and 500), from
  the first API call until every expense is posted in the sandbox (realistic latency profile):
  single vs bulk ingest, approvals and reviews per second, growth (must be at most 11× for 10× the
  work) and the workers' peak memory.

The table and the exact command are written to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.common import env_flag, last_json

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"


def _run(args: list[str], *, timeout: float, env: dict | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


# How each peer suite runs; ``quick`` arguments keep BENCH_QUICK short. bench/api uses the
# DATABASE_URL it is given (SQLite under CONTROLPLANE_VAR_DIR by default): it gets a scratch directory.
PEERS = {
    "api": {"args": ["bench/api/run.py"], "quick": ["--n", "100", "--seconds", "5", "--bulk-requests", "2"]},
    "odoo": {"args": ["-m", "bench.odoo.run"], "quick": ["--quick"]},
}


def _text_rows(out: str) -> list[list[str]]:
    """Rows of a plain table (``name  value  note``, two or more spaces apart)."""
    import re

    rows = []
    for line in out.splitlines():
        parts = [p for p in re.split(r"\s{2,}", line.strip()) if p]
        if len(parts) >= 2 and not line.startswith(("[", "{")):
            rows.append([parts[0], parts[1], "", parts[2] if len(parts) > 2 else ""])
    return rows


def peer_suite(name: str, quick: bool) -> tuple[list[list[str]], str]:
    """Rows from ``bench/<name>`` if it is present, else a note."""
    import tempfile

    if not (ROOT / "bench" / name / "run.py").exists():
        return [], f"bench/{name}: not present in this checkout"
    spec = PEERS[name]
    env = {"CONTROLPLANE_VAR_DIR": tempfile.mkdtemp(prefix=f"bench-{name}-")}
    scratch = ""
    if os.environ.get("BENCH_DATABASE_URL") and name == "api":
        from controlplane.demo.pg import fresh_postgres_url

        env["DATABASE_URL"], scratch = fresh_postgres_url(os.environ["BENCH_DATABASE_URL"], prefix="bench_api")
    try:
        code, out, err = _run([sys.executable, *spec["args"], *(spec["quick"] if quick else [])], timeout=3600,
                              env=env)
    finally:
        if scratch:  # the scratch database goes, as the end-to-end runs' do
            from controlplane.demo.pg import drop_postgres

            drop_postgres(os.environ["BENCH_DATABASE_URL"], scratch)
    figures = last_json(out)
    if figures is None:
        rows = [[f"{name}: {r[0]}", *r[1:]] for r in _text_rows(out)]
        return rows, "" if rows and code == 0 else f"bench/{name} (exit {code}):\n{(out + err)[-2000:]}"
    rows = []
    for figure, v in figures.items():
        if not isinstance(v, dict):
            rows.append([figure, str(v), "", ""])
            continue
        value = f"{v.get('value')} {v.get('unit', '')}".strip()
        baseline = f"{v.get('baseline', '')} {v.get('baseline_unit', '')}".strip()
        ratio = v.get("ratio")
        note = v.get("note", "")
        rows.append([figure, value, baseline, f"{ratio}× ({note})" if ratio is not None else note])
    return rows, "" if code == 0 else f"bench/{name} exited {code}"


def e2e(n: int) -> dict:
    code, out, err = _run([sys.executable, "-m", "bench.e2e", str(n)], timeout=7200)
    result = last_json(out)
    if code != 0 or result is None:
        raise RuntimeError(f"bench.e2e {n} failed (exit {code}):\n{err[-3000:]}")
    return result


def e2e_rows(small: dict, large: dict) -> list[list[str]]:
    ratio_n = large["n"] / small["n"]
    growth = large["e2e_s"] / small["e2e_s"]
    rows = [
        ["bulk ingest vs single create (API, expenses/s)", f"{large['bulk_ingest_per_s']}/s",
         f"{large['single_create_per_s']}/s", f"{large['bulk_ingest_per_s'] / large['single_create_per_s']:.1f}×"],
        ["approvals per second vs single creates (API)", f"{large['approvals_per_s']}/s",
         f"{large['single_create_per_s']}/s", f"{large['approvals_per_s'] / large['single_create_per_s']:.2f}×"],
        ["finance reviews per second (queue the postings)", f"{large['reviews_per_s']}/s", "", ""],
        [f"end to end {large['n']:,} vs {small['n']:,} (API → posted, realistic sandbox)",
         f"{large['e2e_s']} s", f"{small['e2e_s']} s",
         f"{growth:.2f}× for {ratio_n:.0f}× the work ({'linear' if growth <= ratio_n * 1.1 else 'NOT linear'})"],
        [f"posted / expected ({large['n']:,})", f"{large['posted']}", f"{large['n']}",
         f"{large['posted'] / large['n']:.3f}"],
        [f"worker peak RSS {large['n']:,} vs {small['n']:,}", f"{large['peak_worker_rss_mb']} MiB",
         f"{small['peak_worker_rss_mb']} MiB", f"{large['peak_worker_rss_mb'] / max(small['peak_worker_rss_mb'], 1):.2f}×"],
    ]
    if large["n"] >= 10_000:
        rows.append(["10,000 within 10 minutes", f"{large['e2e_s']} s", "600 s",
                     f"{large['e2e_s'] / 600:.2f}× of the budget"])
    return rows


def table(rows: list[list[str]]) -> str:
    head = ["figure", "measured", "baseline", "ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    quick = env_flag("BENCH_QUICK")
    sizes = (50, 500) if quick else (1_000, 10_000)
    started = time.monotonic()
    rows: list[list[str]] = []
    notes: list[str] = []
    for name in ("api", "odoo"):
        print(f"[bench] bench/{name} ...", flush=True)
        got, note = peer_suite(name, quick)
        rows += got
        if note:
            notes.append(note)
    results = {}
    for n in sizes:
        print(f"[bench] end to end, {n:,} expenses ...", flush=True)
        results[n] = e2e(n)
        print(f"[bench]   {json.dumps(results[n])}", flush=True)
    rows += e2e_rows(results[sizes[0]], results[sizes[1]])
    backend = f"{results[sizes[1]]['database']} + {results[sizes[1]]['broker']}"
    text = table(rows)
    print(text)
    for note in notes:
        print(f"\nnote: {note}")
    command = ("BENCH_QUICK=1 " if quick else "") + "make bench" + (
        "  # with BENCH_DATABASE_URL / BENCH_BROKER_URL" if os.environ.get("BENCH_DATABASE_URL") else "")
    write_doc(text, notes, command=command, backend=backend, elapsed=time.monotonic() - started,
              raw=results, quick=quick)
    return 0


def write_doc(text: str, notes: list[str], *, command: str, backend: str, elapsed: float, raw: dict,
              quick: bool) -> None:
    section = "Quick run" if quick else "Full run"
    body = (f"## {section} ({dt.date.today()}, {platform.machine()}, {os.cpu_count()} CPUs, {backend})\n\n"
            f"Command: `{command}` ({elapsed / 60:.1f} min)\n\n{text}\n\n"
            + "".join(f"> {n.splitlines()[0]}\n" for n in notes)
            + f"\nRaw end-to-end figures:\n\n```json\n{json.dumps(raw, indent=1)}\n```\n")
    intro = DOC.read_text().split("\n## ")[0] if DOC.exists() else "# Benchmarks\n"
    kept = [s for s in (DOC.read_text().split("\n## ")[1:] if DOC.exists() else []) if not s.startswith(section)]
    DOC.write_text("\n## ".join([intro.rstrip() + "\n", body.removeprefix("## "), *kept]))


if __name__ == "__main__":
    sys.exit(main())
