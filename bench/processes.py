"""The benchmark's OS processes: koppel commands started like docker-compose runs them, measured
through /proc (peak resident memory, CPU seconds) without extra dependencies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The console script's body; works in any virtualenv without knowing where 'koppel' landed.
KOPPEL = [sys.executable, "-c", "from cli.main import main; main()"]
_TICKS = os.sysconf("SC_CLK_TCK")


class Service:
    """One koppel command running in the background, its output in files under ``logs``."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        logs: Path,
        command: list[str] = KOPPEL,
        cwd: Path = ROOT,  # the checkout whose code the command runs
    ) -> None:
        self.name = name
        self.stdout = logs / f"{name}.out"
        self.stderr = logs / f"{name}.err"
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [*command, *args],
                env={**os.environ, **env},
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for_output(self, text: str, count: int = 1, timeout: float = 60) -> str:
        """Wait until ``text`` appears ``count`` times in stdout or stderr; returns stdout."""
        deadline = time.monotonic() + timeout
        while True:
            out = self.stdout.read_text(errors="replace")
            if (out + self.stderr.read_text(errors="replace")).count(text) >= count:
                return out
            if not self.alive() or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not print {text!r}:\n{self.tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM (running work finishes first), SIGKILL after ``timeout``."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def tail(self, lines: int = 30) -> str:
        text = self.stderr.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} (exit {self.process.poll()}) ---\n" + "\n".join(text)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...), from /proc."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM) in MB, None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # Fields after the command name: utime and stime are the 12th and 13th.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children_cpu_seconds(pid: int) -> float:
    """CPU of every child ``pid`` ever had: the reaped ones (cutime, cstime) and the live ones.

    For the PostgreSQL postmaster: every backend's CPU, those that exited included.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    reaped = (int(fields[13]) + int(fields[14])) / _TICKS
    return reaped + sum(cpu_seconds(child) for child in descendants(pid))


def server_cpu_seconds(pid: int) -> float:
    """CPU of a server and of all its processes (uvicorn's workers), the ended ones included."""
    return cpu_seconds(pid) + children_cpu_seconds(pid)


def machine_cpu_seconds() -> float:
    """CPU time all cores spent busy so far (anyone's work), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def steal_seconds() -> float:
    """CPU time the hypervisor ran someone else while this machine wanted to run, so far."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return int(fields[7]) / _TICKS


def parent_pid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def worker_pids(service: Service) -> list[int]:
    """The processes that consume messages: the spawned children, or the command itself."""
    spawned = [
        pid
        for pid in descendants(service.pid)
        if b"spawn_main" in _cmdline(pid) and b"resource_tracker" not in _cmdline(pid)
    ]
    return spawned or [service.pid]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def start_profilers(
    directory: Path | None, label: str, pids: Mapping[str, int]
) -> list[subprocess.Popen[bytes]]:
    """py-spy sampling each process into ``directory``/<label>-<name>.txt (collapsed stacks)."""
    if directory is None:
        return []
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise SystemExit(f"--profile needs py-spy next to {sys.executable} (pip install py-spy)")
    directory.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--rate",
                "100",
                "--nonblocking",  # sampling must not slow the process it measures
                "--subprocesses",  # a server of several processes: all of them
                "--format",
                "raw",
                "--output",
                str(directory / f"{label}-{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
        if pid
    ]


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for profiler in profilers:
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()
