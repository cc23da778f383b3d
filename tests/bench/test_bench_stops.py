"""The national benchmark stopped before its end leaves none of the processes it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.deploy.processes import wait_for
from tests.servers import postgres_url, rabbitmq_url

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

ROOT = Path(__file__).resolve().parents[2]
# Put in the benchmark's environment: every process it starts inherits it.
MARK = "KOPPEL_TEST_BENCH_RUN"


def marked(mark: str) -> dict[int, str]:
    """The processes (pid: command line) whose environment holds this run's mark."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if f"{MARK}={mark}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError):
            continue  # not a process, gone meanwhile, or not ours to read
    return {pid: command.decode(errors="replace") for pid, command in found.items()}


@pytest.mark.parametrize("way_out", ["night-timeout", "sigterm"])
def test_a_run_stopped_early_leaves_no_process_running(tmp_path: Path, way_out: str) -> None:
    mark = uuid.uuid4().hex
    env = {
        **os.environ,
        "KOPPEL_BENCH_POSTGRES_URL": postgres_url(),
        "KOPPEL_BENCH_RABBITMQ_URL": rabbitmq_url(),
        MARK: mark,
    }
    args = [
        sys.executable, "-m", "bench.national", "--schools", "20", "--workers", "1",
        "--threads", "1", "--results-dir", str(tmp_path),
    ]  # fmt: skip
    if way_out == "night-timeout":
        args += ["--night-timeout", "0"]  # the first night ends in SystemExit
    with (tmp_path / "out").open("wb") as out:
        bench = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        if way_out == "sigterm":  # in the first night: simulator, workers and scheduler up
            wait_for(
                "the night's scheduler",
                lambda: any("scheduler" in c for c in marked(mark).values()),
                timeout=120,
            )
            bench.send_signal(signal.SIGTERM)
        code = bench.wait(timeout=300)
    finally:
        if bench.poll() is None:
            bench.kill()
        output = (tmp_path / "out").read_text(errors="replace")[-3000:]
        left = marked(mark)
        for pid in left:  # not to disturb the next tests
            os.kill(pid, signal.SIGKILL)
    assert code != 0, output
    assert not left, f"{left}\n{output}"
