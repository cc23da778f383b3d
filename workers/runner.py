"""Worker processes for 'koppel worker': N processes of M threads, graceful on SIGTERM."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import structlog

from core.errors import ConfigError, KoppelError
from core.logging import configure
from core.plugins import get_plugins
from core.settings import get_settings
from workers import metrics

log = structlog.get_logger()

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How often a worker process touches its heartbeat file and looks for its parent.
PARENT_CHECK_SECONDS = 2.0


# A child that dies is replaced at once, unless children die this often: then something is
# wrong beyond one process (the database URL, the code), and the command exits for the
# container's restart policy (and its operator) to see.
RESTARTS_ALLOWED = 5
RESTART_WINDOW_SECONDS = 300.0


def run_workers(
    processes: int, threads: int, heartbeat: Path | None = None, metrics_port: int | None = None
) -> int:
    """Run the workers until SIGTERM/SIGINT; returns the exit code.

    With ``metrics_port``, /metrics on that port serves every worker process's samples;
    workers.metrics.prepare() must have run before prometheus_client was first imported.
    With several processes, a child that dies is restarted (RESTARTS_ALLOWED in
    RESTART_WINDOW_SECONDS, else all stop and the exit code is 1), and every child stops
    when this process dies, even by SIGKILL.
    """
    if metrics_port is not None:
        metrics.serve(metrics_port)
    if processes == 1:
        return run_worker_process(threads, heartbeat)
    # Spawned, not forked: each child opens its own connections from a clean interpreter.
    context = multiprocessing.get_context("spawn")
    parent = os.getpid()
    stopping = threading.Event()

    def spawn() -> BaseProcess:
        child = context.Process(target=_child, args=(threads, heartbeat, parent), daemon=False)
        child.start()
        return child

    children: list[BaseProcess] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for child in children:
            if child.pid is not None and child.exitcode is None:
                child.terminate()  # SIGTERM: the child finishes its running syncs first

    for sig in _STOP_SIGNALS:
        signal.signal(sig, forward)
    children.extend(spawn() for _ in range(processes))
    log.info("worker_processes_started", processes=processes, threads=threads)
    deaths: deque[float] = deque()
    code = 0
    while any(child.exitcode is None for child in children):
        wait([c.sentinel for c in children if c.exitcode is None], timeout=1.0)
        for index, child in enumerate(children):
            if child.exitcode is None or stopping.is_set():
                continue
            metrics.process_exited(child.pid)  # type: ignore[arg-type]
            log.error("worker_process_died", pid=child.pid, exit=_exit_name(child.exitcode))
            now = time.monotonic()
            deaths.append(now)
            while now - deaths[0] > RESTART_WINDOW_SECONDS:
                deaths.popleft()
            if len(deaths) > RESTARTS_ALLOWED:
                log.error(
                    "worker_processes_failing",
                    deaths=len(deaths),
                    window_seconds=RESTART_WINDOW_SECONDS,
                    action="stopping every worker process; exit code 1",
                )
                code = 1
                forward(signal.SIGTERM, None)
                break
            children[index] = spawn()
            log.info("worker_process_restarted", pid=children[index].pid, replaces=child.pid)
    for child in children:
        if child.pid is not None:
            metrics.process_exited(child.pid)
    return code


def _exit_name(exitcode: int) -> str:
    """'exit 1' or 'SIGKILL': how a child ended."""
    if exitcode < 0:
        return signal.Signals(-exitcode).name
    return f"exit {exitcode}"


def _child(threads: int, heartbeat: Path | None, parent: int) -> None:
    """A child process's body: a setting it refuses is one line, not a traceback."""
    try:
        code = run_worker_process(threads, heartbeat, parent)
    except KoppelError as exc:
        log.error("worker_process_failed", error=str(exc))
        code = 1
    raise SystemExit(code)


def run_worker_process(
    threads: int, heartbeat: Path | None = None, parent: int | None = None
) -> int:
    """One worker process: consume every koppel queue with ``threads`` threads until signalled,
    or, as a child of ``parent`` (a pid), until that process is gone."""
    settings = get_settings()
    if parent is not None:  # a spawned child starts bare; in-process, the command configured it
        configure(settings.log_format, settings.log_level, cache=True)
    from workers.broker import broker, is_in_process
    from workers.database import session_factory, warm_up
    from workers.inprocess import make_worker
    from workers.unreleased import unreleased

    if is_in_process():
        raise ConfigError(
            "a worker process needs KOPPEL_BROKER_URL (RabbitMQ); without it, "
            "'koppel scheduler' runs the worker inside its own process"
        )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise SystemExit(1)  # a second signal: stop now, RabbitMQ redelivers what was held
        log.info("worker_stopping", signal=signal.Signals(signum).name)
        stop.set()

    for sig in _STOP_SIGNALS:
        signal.signal(sig, on_signal)
    get_plugins().pm.register(metrics.SyncMetrics(), name="koppel-sync-metrics")
    warm_up()  # the first message should not pay for the driver and the first connection
    worker = make_worker(threads)
    worker.start()
    queues = sorted(worker.broker.get_declared_queues())
    log.info("worker_started", pid=os.getpid(), threads=threads, queues=queues)
    while True:
        if heartbeat is not None:
            heartbeat.touch()  # the container's health check reads its age
        unreleased.give_back(session_factory())  # owed after an outage, even with no messages
        if parent is not None and os.getppid() != parent:
            # The parent died (SIGKILL leaves it no time to stop us): stop as if told to.
            log.warning("worker_parent_gone", parent=parent)
            break
        if stop.wait(PARENT_CHECK_SECONDS):
            break
    # Let running syncs finish (each is bounded by its time limit), then hand back the rest.
    worker.stop(timeout=int((settings.sync_time_limit_seconds + 30) * 1000))
    unreleased.give_back(session_factory())  # what the last syncs could not give back
    broker.close()
    log.info("worker_stopped")
    return 0
