"""A PostgreSQL and a RabbitMQ of the chaos tests' own, to stop, crash and restart at will.

They are started by scripts/services.sh (as CI starts the shared ones), on free ports under a
directory of their own, so the shared servers of the rest of the suite are never touched.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"
_PORTS = ("PG_PORT", "RABBITMQ_PORT", "RABBITMQ_DIST_PORT", "RABBITMQ_EPMD_PORT")

# Kept in postgresql.auto.conf, so a plain 'pg_ctl start' after a stop starts alike. A commit
# must survive a crash (pg_ctl stop -m immediate), as in production: synchronous_commit back on
# (services.sh turns it off). fsync and full-page writes only matter when the machine crashes.
_POSTGRES_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "on",
    "full_page_writes": "off",
    "max_connections": "200",
}

# A RabbitMQ node stopped by SIGTERM and started again on its own data (start_rabbitmq would
# wipe it, and the durable queues with it): as a container restart does.
_RESTART_RABBITMQ = """
d=$(_rmq_dir); pid=$(cat "$d/rabbitmq.pid")
kill -TERM "$pid"; while _svc_alive "$pid"; do sleep 0.1; done
sleep "$1"
( _rmq_env; exec /usr/lib/rabbitmq/bin/rabbitmq-server ) >> "$d/log/server.out" 2>&1 < /dev/null &
echo $! > "$d/launcher.pid"
if ! _svc_wait_port "$RABBITMQ_PORT" "$(cat "$d/launcher.pid")" ||
   ! rabbitmqctl_ci -q await_startup --timeout "$SERVICES_START_TIMEOUT" >/dev/null; then
    _svc_log "rabbitmq did not start again; last log lines:"; tail -n 40 "$d/log/server.out" >&2
    exit 1
fi
"""


def steady_ports(count: int) -> list[int]:
    """Free ports below the range outgoing connections take theirs from (see
    /proc/sys/net/ipv4/ip_local_port_range): a restarted server finds its port still free."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = random.sample(range(max(1024, low - 12000), low), 100)
    found = []
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise AssertionError(f"not {count} free ports below {low}")


def missing() -> str | None:
    """Why private servers cannot run here (None: they can)."""
    if os.geteuid() != 0:
        return "scripts/services.sh must run as root (it starts PostgreSQL as user postgres)"
    if not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").is_file():
        return "rabbitmq-server is not installed (scripts/test installs it)"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "postgresql is not installed (scripts/test installs it)"
    return None


def require_private_servers() -> None:
    """Skip on a laptop that cannot run them; fail in CI, where scripts/test installs them."""
    reason = missing()
    if reason is None:
        return
    message = f"chaos tests need private servers: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " — in CI this is a failure, not a skip")
    pytest.skip(message)


class PrivateServers:
    """PostgreSQL and RabbitMQ under ``/tmp/koppel-chaos-PID``, on free ports."""

    def __init__(self) -> None:
        pid = os.getpid()
        ports = steady_ports(4)
        self.env = {
            # Not under pytest's tmp_path: user postgres must be able to traverse every parent.
            "CI_SERVICES_DIR": f"/tmp/koppel-chaos-{pid}",
            **dict(zip(_PORTS, map(str, ports), strict=True)),
            "RABBITMQ_NODE": f"chaos{pid}@localhost",
        }
        self.directory = Path(self.env["CI_SERVICES_DIR"])
        self.directory.mkdir(mode=0o755, exist_ok=True)
        self.postgres_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.env['PG_PORT']}/app"
        self.rabbitmq_url = f"amqp://guest:guest@127.0.0.1:{self.env['RABBITMQ_PORT']}/%2F"

    def _bash(self, script: str, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            ["bash", "-c", f". {SERVICES}\nset -e\n{script}", "services", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.directory,  # where an Erlang crash dump lands
        )
        assert done.returncode == 0, f"services.sh: {script.strip()[:60]}...\n{done.stderr}"
        return done.stdout

    def start(self, *, rabbitmq: bool = True) -> None:
        """Start both servers, or PostgreSQL alone for a test that needs no broker."""
        if rabbitmq:
            self._bash("start_postgres & start_rabbitmq & wait -n && wait -n")
        else:
            self._bash("start_postgres")
        sets = [
            f"ALTER SYSTEM SET {name} = '{value}'" for name, value in _POSTGRES_SETTINGS.items()
        ]
        sets.append(f"ALTER SYSTEM SET port = {self.env['PG_PORT']}")
        sets.append("ALTER SYSTEM SET unix_socket_directories = '$(_pg_dir)/sock'")
        commands = " ".join(f'-c "{statement}"' for statement in sets)
        self._bash(f'"$(_pg_bin)/psql" -qAt -h 127.0.0.1 -p "$PG_PORT" -U postgres {commands}')
        self.stop_postgres("fast")  # started with services.sh's settings: now with these
        self.start_postgres()

    def stop(self) -> None:
        try:
            self._bash("stop_rabbitmq & stop_postgres & wait")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def stop_postgres(self, mode: str) -> None:
        """``pg_ctl stop -m fast`` (clients told, work rolled back) or ``immediate`` (a crash)."""
        self._bash('_pg_as "$(_pg_bin)/pg_ctl" -D "$(_pg_dir)/data" -m "$1" -w stop', mode)

    def start_postgres(self) -> None:
        """Start the stopped cluster again on its own data (crash recovery if it crashed)."""
        self._bash(
            '_pg_as "$(_pg_bin)/pg_ctl" -D "$(_pg_dir)/data" -l "$(_pg_dir)/postgres.log" '
            '-w -t "$SERVICES_START_TIMEOUT" start'
        )

    def restart_rabbitmq(self, down_seconds: float) -> None:
        """Stop the node gracefully, keep it down ``down_seconds``, start it on its own data."""
        self._bash(_RESTART_RABBITMQ, str(down_seconds))

    def queue_depths(self, prefix: str) -> dict[str, int]:
        """Messages (ready and unacknowledged) per queue whose name starts with ``prefix``."""
        listing = self._bash("rabbitmqctl_ci -q list_queues --no-table-headers name messages")
        depths = {}
        for line in listing.splitlines():
            name, _, count = line.rpartition("\t")
            if name.startswith(prefix):
                depths[name] = int(count)
        return depths
