"""The README's first command: 'koppel demo' runs the whole job on the embedded default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def test_demo_links_syncs_twice_and_answers_logins(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--schools", "6"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "School gevonden en heeft toestemming verleend." in out
    assert "succeeded" in out
    assert "Inloggen kan alleen vanaf het netwerk van de school." in out
    assert "Probeer het morgen opnieuw." in out
    assert (tmp_path / "koppel-demo.db").exists()
    assert "Traceback" not in result.stderr
    # A school gives consent during the demo, and the next check finds it.
    assert "gives consent in Basispoort" in out and "may log in from" in out
    # The closing hints run as printed, in a shell, from where the demo ran.
    hints = out[out.index("Look around") :].split("\n\n")[0].splitlines()[1:]
    assert len(hints) == 3
    for hint in hints:
        ran = subprocess.run(
            ["bash", "-c", hint.strip()], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert ran.returncode == 0 and ran.stdout and not ran.stderr, (hint, ran.stderr)
    # So do the README's lines after the demo, from a folder with the demo's .venv and database.
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme[readme.index("```sh", readme.index("After `scripts/demo`")) :]
    script = block[len("```sh") : block.index("```", 5)]
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0 and not ran.stderr, ran.stderr
    assert "Inloggen kan alleen vanaf het netwerk van de school." in ran.stdout
    # It ends by offering a school's Basispoort tab.
    assert out.rstrip().endswith("scripts/demo --serve")


def test_demo_serves_a_schools_tab_behind_a_one_time_link(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    env.update(COLUMNS="200", PYTHONUNBUFFERED="1")
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "cli", "demo", "--schools", "4", "--serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        link = next_link(demo)
        assert link.startswith(f"http://127.0.0.1:{port}/school/link/")
        first = httpx.get(link)
        assert first.status_code == 303 and "koppel_session=" in first.headers["set-cookie"]
        assert first.headers["location"].endswith("/basispoort")
        assert httpx.get(link).status_code == 410  # once only
        demo.stdin.write("\n")  # type: ignore[union-attr]
        demo.stdin.flush()  # type: ignore[union-attr]
        assert next_link(demo) != link
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0
        assert "Traceback" not in demo.stderr.read()  # type: ignore[union-attr]
    finally:
        demo.kill()
        demo.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def next_link(demo: subprocess.Popen[str]) -> str:
    """The next one-time link the demo prints (it prints one, then waits for Enter)."""
    for line in demo.stdout:  # type: ignore[union-attr]
        if "Open within a minute" in line:
            return line.split(": ", 1)[1].strip()
    raise AssertionError("the demo ended without printing a link")
