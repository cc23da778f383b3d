"""bench/login_floor runs: koppel's SAML check accepts both identity-provider key kinds, and the
floor it prints is the sum of its parts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_login_floor_prints_its_parts_and_their_sum():
    done = subprocess.run(
        [sys.executable, "-m", "bench.login_floor", "--rounds", "3", "--bare-ms", "1.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr  # a Response the check refused would raise
    figures = dict(re.findall(r"^\s*(.+?):\s+([\d.]+) ms CPU", done.stdout, re.M))
    parts = {k: float(v) for k, v in figures.items() if k != "floor of one full login"}
    assert len(parts) == 4 and all(ms > 0 for ms in parts.values())
    slower_check = max(v for k, v in parts.items() if k.startswith("SAML check"))
    expected = slower_check + parts["RS256 id_token"] + 3.0
    assert abs(float(figures["floor of one full login"]) - expected) < 0.02
