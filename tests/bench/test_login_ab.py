"""bench/login_ab serves the same logins from several servers at once, in turns, and prints
each one's batches and medians."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import postgres_url

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def test_two_servers_take_turns_and_each_gets_its_medians() -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "bench.login_ab",
            "--server", "one=.", "--server", "two=.:KOPPEL_API_THREADS=1",
            "--rounds", "2", "--seconds", "1", "--schools", "2", "--pupils", "20",
            "--connections", "2",
        ],
        cwd=ROOT,
        env={**os.environ, "KOPPEL_BENCH_POSTGRES_URL": postgres_url()},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    batches = re.findall(r"^round (\d) +(\w+) +(evaluate|full): +([\d.]+) /s", done.stdout, re.M)
    # Every round gives each server a batch of each kind, in turn, and every batch did work.
    assert [(r, s, k) for r, s, k, _ in batches] == [
        (r, s, k) for r in "12" for s in ("one", "two") for k in ("evaluate", "full")
    ]
    assert all(float(rate) > 0 for *_, rate in batches)
    medians = re.findall(r"^ +(\w+) +(evaluate|full): +([\d.]+) ms", done.stdout, re.M)
    assert {(s, k) for s, k, _ in medians} == {
        (s, k) for s in ("one", "two") for k in ("evaluate", "full")
    }
    assert all(float(ms) > 0 for *_, ms in medians)
