"""The login benchmark (bench/logins) for a second per scenario: it runs and reports each figure.

No rate is asserted (this machine is shared); only that each figure is there and sane, that
every answer was the expected one, that every denial left an audit row, and that full logins
ended in id_tokens koppel's JWKS verifies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import postgres_url

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
MEASURED = ("bare", "evaluate_allowed", "evaluate_denied", "full_logins")


@pytest.mark.parametrize("processes", [1, 2])
def test_a_short_login_run_reports_every_figure(tmp_path: Path, processes: int) -> None:
    if shutil.which("wrk") is None:
        message = "bench/logins needs wrk (Debian package 'wrk')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    short = ["--seconds", "1", "--warmup", "1", "--connections", "2", "--schools", "2"]
    short += ["--api-processes", str(processes)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.login_rate", *short, "--results-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "KOPPEL_BENCH_POSTGRES_URL": postgres_url()},
        capture_output=True,
        text=True,
        timeout=420,  # several processes each import koppel on a busy machine
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (written,) = tmp_path.glob("logins-*.json")
    result = json.loads(written.read_text())

    scenarios = result["scenarios"]
    for name in MEASURED:
        figures = scenarios[name]
        assert figures["requests"] > 0, name
        assert figures["errors"] == 0, name
        assert figures["requests_per_second"] > 0, name
        assert 0 < figures["p50_ms"] <= figures["p99_ms"], name
        assert figures["api_cpu_ms_per_request"] is not None, name
        assert figures["generator_cpu_ms_per_request"] is not None, name
    denied = scenarios["evaluate_denied"]
    assert denied["audit_rows"] >= denied["requests"]
    assert scenarios["evaluate_allowed"]["audit_rows"] == 0
    full = scenarios["full_logins"]
    assert full["database_cpu_ms_per_request"] is not None
    assert full["id_tokens_checked"] > 0  # the logins' id_tokens, verified against /oidc/jwks
    # wrk drives the full logins: the load must cost far less than the logins it measures.
    assert full["generator_cpu_ms_per_request"] < full["api_cpu_ms_per_request"] / 4
    assert all(ratio > 0 for ratio in result["ratios"].values())
    assert {name for name in result["targets"]} == {
        "full logins >= 250/s",
        "full login p99 < 100 ms",
        "evaluate (allowed) >= 0.5 of the bare endpoint",
        "evaluate (denied, audited) >= 0.5 of the bare endpoint",
    }
    assert all(target["pass"] is not None for target in result["targets"].values())
    assert len(result["settings"]["load_average"]) == 3
    assert result["settings"]["api_processes"] == processes
    assert "PASS" in done.stdout or "FAIL" in done.stdout
