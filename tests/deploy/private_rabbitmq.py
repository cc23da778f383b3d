"""A RabbitMQ of the test's own (scripts/services.sh on free ports), which it may stop and start
again with its data, as a restart in production keeps its durable queues."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.deploy.processes import free_port

SERVICES = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")

# Stop and start only the node, keeping its data directory (start_rabbitmq would wipe it).
_STOP_NODE = """
pid=$(cat "$(_rmq_dir)/rabbitmq.pid")
kill -TERM "$pid"
while _svc_alive "$pid"; do sleep 0.1; done
"""
_START_NODE = """
( _rmq_env; exec "$0" ) > "$(_rmq_dir)/log/server.out" 2>&1 < /dev/null &
echo $! > "$(_rmq_dir)/launcher.pid"
_svc_wait_port "$RABBITMQ_PORT" "$(cat "$(_rmq_dir)/launcher.pid")"
rabbitmqctl_ci -q await_startup --timeout "$SERVICES_START_TIMEOUT"
"""


class PrivateRabbitmq:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.env = {
            "CI_SERVICES_DIR": str(directory),
            "RABBITMQ_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_EPMD_PORT": str(free_port()),
            "RABBITMQ_NODE": f"t{uuid.uuid4().hex[:8]}@localhost",
        }
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.log = directory / "services.log"

    def _run(self, script: str) -> None:
        # Output to a file: the server started in the background must not hold a pipe open.
        with self.log.open("a+") as out:
            done = subprocess.run(
                ["bash", "-c", f". {SERVICES}\n{script}", str(SERVER)],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                timeout=120,
                check=False,
            )
        assert done.returncode == 0, f"{script}: {self.log.read_text()[-2000:]}"

    def stop_node(self) -> None:
        self._run(_STOP_NODE)

    def start_node(self) -> None:
        self._run(_START_NODE)


@contextmanager
def private_rabbitmq(directory: Path) -> Iterator[PrivateRabbitmq]:
    """Start one (skipped where RabbitMQ is not installed; CI installs it); stopped after."""
    if not SERVER.exists():
        if os.environ.get("CI"):
            pytest.fail("rabbitmq-server is not installed (scripts/test installs it)")
        pytest.skip("rabbitmq-server is not installed")
    rabbit = PrivateRabbitmq(directory)
    rabbit._run("start_rabbitmq")
    try:
        yield rabbit
    finally:
        rabbit._run("stop_rabbitmq")
