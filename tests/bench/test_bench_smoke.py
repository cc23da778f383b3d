"""The national benchmark at a tiny scale: it runs end to end and writes every figure.

No timing is asserted (this machine is shared); only that each figure is there and sane.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import postgres_url, rabbitmq_url

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

ROOT = Path(__file__).resolve().parents[2]
NIGHTS = ("first", "unchanged", "churn")
NIGHT_FIGURES = {
    "wall_seconds", "schools", "outcomes", "messages", "messages_per_second", "people_inserted",
    "people_rows_written", "people_written_per_second", "people_table_rows_written",
    "rows_written", "worker_peak_rss_mb", "scheduler_peak_rss_mb", "cpu_seconds",
}  # fmt: skip
TARGETS = {
    "first night >= 1/4 of plain COPY (same schema)",
    "first night >= 10x the naive ORM",
    "unchanged night writes no people rows",
    "unchanged night <= 1/10 of the first's wall time",
    "worker peak memory < 250 MB",
}


def test_a_tiny_national_run_reports_every_figure(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KOPPEL_BENCH_POSTGRES_URL": postgres_url(),
        "KOPPEL_BENCH_RABBITMQ_URL": rabbitmq_url(),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.national",
            "--schools",
            "20",
            "--workers",
            "2",
            "--threads",
            "2",
            "--orm-schools",
            "2",
            "--unchanged-nights",
            "2",
            "--results-dir",
            str(tmp_path),
            "--stall-timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,  # the tests share the machine's cores (scripts/test runs three at a time)
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (written,) = tmp_path.glob("*.json")
    result = json.loads(written.read_text())

    linked = result["settings"]["linked_schools"]
    assert 0 < linked <= 20
    nights = result["nights"]
    assert set(nights) == set(NIGHTS)
    # The database settled (VACUUM, CHECKPOINT) before the later nights and the references.
    assert set(result["settle_seconds"]) == {"unchanged", "unchanged-2", "churn", "reference"}
    assert all(seconds >= 0 for seconds in result["settle_seconds"].values())
    for label in NIGHTS:
        night = nights[label]
        assert set(night) >= NIGHT_FIGURES, label
        assert night["wall_seconds"] > 0
        assert night["messages"] == linked  # one message per school, each night
        assert sum(night["outcomes"].values()) == linked
        assert len(night["worker_peak_rss_mb"]) == 2
        assert all(0 < mb < 1000 for mb in night["worker_peak_rss_mb"])
        assert night["scheduler_peak_rss_mb"] > 0
    first, unchanged = nights["first"], nights["unchanged"]
    assert first["outcomes"] == {"succeeded": linked}
    assert first["people_inserted"] > 0 and first["people_written_per_second"] > 0
    # The unchanged night ran twice; the one compared with the first is one of them.
    repeats = result["unchanged_nights"]
    assert len(repeats) == 2
    assert unchanged["repeats_wall_seconds"] == [night["wall_seconds"] for night in repeats]
    assert unchanged["wall_seconds"] == max(unchanged["repeats_wall_seconds"])  # upper median
    for night in repeats:
        assert set(night) >= NIGHT_FIGURES
        assert night["outcomes"] == {"unchanged": linked}
        assert night["people_table_rows_written"] == 0  # the change stamps did not move
    assert nights["churn"]["people_rows_written"] > 0

    copy, orm = result["reference"]["copy"], result["reference"]["orm"]
    people = sum(nights[n]["people_inserted"] for n in NIGHTS)
    assert copy["people"] == people  # the same rows koppel wrote
    for way in ("schema", "indexed", "bare"):
        assert copy[f"{way}_people_per_second"] > 0, way
    # Into koppel's tables both formats were timed; the reference is the faster one.
    fastest = copy["schema_format"]
    assert copy["schema_seconds"] == copy[f"schema_{fastest}_seconds"]
    assert copy["schema_seconds"] <= min(copy["schema_text_seconds"], copy["schema_binary_seconds"])
    assert all(ratio is not None and ratio > 0 for ratio in result["ratios"].values())
    assert orm["schools"] == 2 and orm["people"] > 0 and orm["people_per_second"] > 0
    assert set(result["targets"]) == TARGETS
    assert all(isinstance(t["pass"], bool) for t in result["targets"].values())
    for name, target in result["targets"].items():  # each verdict printed as it was judged
        verdict = "PASS" if target["pass"] else "FAIL"
        assert f"  {verdict}  {name}: {target['value']} (limit {target['limit']})" in done.stdout
