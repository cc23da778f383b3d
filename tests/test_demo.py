"""The README's first command: 'koppel demo' runs the whole job on the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
    hints = out[out.index("Look around") :].splitlines()[1:]
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
