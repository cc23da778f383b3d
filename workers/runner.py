"""Worker processes for 'koppel worker': N processes of M threads, graceful on SIGTERM."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from pathlib import Path
from types import FrameType

import structlog

from core.errors import ConfigError
from core.logging import configure
from core.plugins import get_plugins
from core.settings import get_settings
from workers import metrics

log = structlog.get_logger()

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_workers(
    processes: int, threads: int, heartbeat: Path | None = None, metrics_port: int | None = None
) -> int:
    """Run the workers until SIGTERM/SIGINT; returns the exit code.

    With ``metrics_port``, /metrics on that port serves every worker process's samples;
    workers.metrics.prepare() must have run before prometheus_client was first imported.
    """
    if metrics_port is not None:
        metrics.serve(metrics_port)
    if processes == 1:
        return run_worker_process(threads, heartbeat)
    # Spawned, not forked: each child opens its own connections from a clean interpreter.
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=run_worker_process, args=(threads, heartbeat), daemon=False)
        for _ in range(processes)
    ]
    stopping = threading.Event()

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for child in children:
            if child.pid is not None and child.exitcode is None:
                child.terminate()  # SIGTERM: the child finishes its running syncs first

    for sig in _STOP_SIGNALS:
        signal.signal(sig, forward)
    for child in children:
        child.start()
    log.info("worker_processes_started", processes=processes, threads=threads)
    code = 0
    while any(child.exitcode is None for child in children):
        for child in children:
            child.join(timeout=0.5)
            if child.exitcode not in (None, 0) and not stopping.is_set():
                # One process died: stop the rest so the container restarts as a whole.
                log.error("worker_process_died", pid=child.pid, exitcode=child.exitcode)
                code = 1
                forward(signal.SIGTERM, None)
    for child in children:
        if child.pid is not None:
            metrics.process_exited(child.pid)
    return code


def run_worker_process(threads: int, heartbeat: Path | None = None) -> int:
    """One worker process: consume every koppel queue with ``threads`` threads until signalled."""
    settings = get_settings()
    configure(settings.log_format, settings.log_level)  # again: a spawned child starts bare
    from workers.broker import broker, is_in_process
    from workers.database import warm_up
    from workers.inprocess import make_worker

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
    log.info("worker_started", threads=threads, queues=queues)
    while True:
        if heartbeat is not None:
            heartbeat.touch()  # the container's health check reads its age
        if stop.wait(5):
            break
    # Let running syncs finish (each is bounded by its time limit), then hand back the rest.
    worker.stop(timeout=int((settings.sync_time_limit_seconds + 30) * 1000))
    broker.close()
    log.info("worker_stopped")
    return 0
