"""bench/processes.server_cpu_seconds: a server's CPU is its own and all its processes'."""

from __future__ import annotations

import subprocess
import sys

from bench.processes import cpu_seconds, server_cpu_seconds

# A parent that starts a child burning 0.3 s of its own CPU, and waits for a line on stdin.
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", '''
import time
while time.process_time() < 0.3:
    pass
print("done", flush=True)
input()
'''], stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
child.stdout.readline()
print("burnt", flush=True)
input()
child.communicate("\\n")
"""


def test_a_servers_cpu_counts_its_children() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "burnt\n"
        # The child's 0.3 s, less what /proc's clock ticks (10 ms) may round away.
        assert server_cpu_seconds(parent.pid) - cpu_seconds(parent.pid) >= 0.25
    finally:
        parent.communicate("\n", timeout=30)
