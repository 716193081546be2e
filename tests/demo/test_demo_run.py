"""The one-shot demo end to end, as a subprocess: stack up, traffic over the API, postings to
the sandbox, and the last line's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_demo_with_40_expenses_posts_without_duplicates_or_losses(tmp_path):
    # given a fresh directory and 40 expenses (enough for every planted problem)
    env = {**os.environ, "DEMO_EXPENSES": "40", "DEMO_VAR_DIR": str(tmp_path / "demo"),
           "DJANGO_SETTINGS_MODULE": "controlplane.settings.base"}
    # when the demo runs
    proc = subprocess.run([sys.executable, "-m", "controlplane.demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1700)
    # then it exits cleanly and its last line is the summary
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["duplicate_postings"] == 0
    assert result["lost"] == 0
    assert result["posted"] > 0
    assert result["exceptions_open"] > 0  # the planted missing mapping and self-approval attempt
    assert result["rejected"] > 0  # the duplicate receipt and the amount over the cap
    assert result["odoo_documents"] == result["posted"]
