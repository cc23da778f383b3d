"""Running koppel commands as separate OS processes, the way docker-compose runs its services."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# The console script's body; works in any virtualenv without knowing where 'koppel' landed.
KOPPEL = [sys.executable, "-c", "from cli.main import main; main()"]


class Service:
    """One running command, its output in files under ``logs``."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], logs: Path) -> None:
        self.name = name
        self.stdout = logs / f"{name}.out"
        self.stderr = logs / f"{name}.err"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [*KOPPEL, *args],
                env={**os.environ, **env},
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parents[2],
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as docker stop sends it; returns the exit code (SIGKILL after ``timeout``)."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s of SIGTERM") from None

    def kill(self) -> None:
        """kill -9: no chance to clean up, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def output(self, lines: int = 40) -> str:
        text = self.stderr.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} (exit {self.process.poll()}) ---\n" + "\n".join(text)


@contextmanager
def services(logs: Path) -> Iterator[Callable[[str, list[str], Mapping[str, str]], Service]]:
    """Start services with the yielded function; all are stopped (killed if need be) after."""
    started: list[Service] = []

    def start(name: str, args: list[str], env: Mapping[str, str]) -> Service:
        service = Service(name, args, env, logs)
        started.append(service)
        return service

    try:
        yield start
    except BaseException:
        for service in started:
            sys.stderr.write(service.output() + "\n")
        raise
    finally:
        for service in started:
            if service.alive():
                service.process.kill()
                service.process.wait()


def run(args: list[str], env: Mapping[str, str], timeout: float = 60) -> str:
    """Run a command to its end; its stdout, or AssertionError with its stderr."""
    done = subprocess.run(
        [*KOPPEL, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, f"koppel {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def free_port() -> int:
    """A TCP port nobody listens on now, on the loopback address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.2) -> T:
    """Poll ``probe`` until it returns something truthy; AssertionError naming ``what`` if not."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def delete_queues(url: str, prefix: str) -> None:
    """Delete every queue koppel declared under ``prefix`` (a test's own) on RabbitMQ at ``url``."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for name in ("sync-nightly", "sync-now", "connection", "lifecycle"):
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(f"{prefix}{name}{suffix}")
    connection.close()


def events(service: Service, name: str) -> list[dict]:  # type: ignore[type-arg]
    """The service's JSON log lines (of all its processes) whose event is ``name``."""
    lines = service.stderr.read_text().splitlines()
    return [e for e in (json.loads(x) for x in lines if x.startswith("{")) if e["event"] == name]


def gone(pid: int) -> bool:
    """Has the process ended? (an orphan nobody reaped yet counts: it is a zombie)"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
