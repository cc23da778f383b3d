"""bench/login_parts runs on PostgreSQL and prints every part it times, nested parts within
their whole, for allowed and for denied logins."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.login_parts import PARTS
from tests.servers import postgres_url

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("denied", [False, True])
def test_every_part_of_a_decision_is_timed(denied: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.login_parts", "--logins", "40"]
        + (["--denied"] if denied else []),
        cwd=ROOT,
        env={**os.environ, "KOPPEL_BENCH_POSTGRES_URL": postgres_url()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    shown = dict(re.findall(r"^(.+?)\s+([\d.]+) ms$", done.stdout, re.M))
    spent = {label.strip(): float(shown[label.rstrip()]) for _m, _a, label in PARTS}
    whole = float(shown["answer_login() in all"])
    assert spent["the decision, session to answer"] <= whole
    assert 0 < spent["the login statement (resolve_identity)"] <= spent["decide_login"]
    assert spent["the log line"] > 0 and spent["the cursor's description"] > 0
    assert done.stdout.startswith("denied logins" if denied else "allowed logins")
    if denied:  # its audit INSERT is a statement of its own, far dearer than two counters
        assert spent["the audit rows"] > spent["Prometheus counters"]
