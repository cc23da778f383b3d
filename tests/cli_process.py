"""Running the installed koppel command as an operator does: a process, its exit code, its lines."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# The console script pip installed beside this interpreter: the real entry point, main() included.
KOPPEL = Path(sys.executable).with_name("koppel")


def run_koppel(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``koppel args`` in ``cwd`` with only ``env``'s KOPPEL_* variables set."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    return subprocess.run(
        [str(KOPPEL), *args],
        env={**inherited, "KOPPEL_LOG_FORMAT": "json", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess[str], *says: str) -> str:
    """Assert the command failed with exactly one line, 'error: …', holding each of ``says``."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    for fragment in says:
        assert fragment in lines[0]
    return lines[0]


def http_ok(url: str) -> bool:
    """Does a running koppel answer 200 at ``url`` (for waiting until it listens)?"""
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
