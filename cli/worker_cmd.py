"""'koppel worker': Dramatiq worker processes that sync schools from RabbitMQ."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.runtime import fail
from core.errors import KoppelError


@click.command("worker")
@click.option("--processes", "-p", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", "-t", default=2, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Touched every few seconds while the worker runs (for container health checks).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve Prometheus metrics of all worker processes on this port (/metrics); "
    "default: KOPPEL_METRICS_PORT.",
)
def worker(
    processes: int, threads: int, heartbeat_file: Path | None, metrics_port: int | None
) -> None:
    """Process sync messages from RabbitMQ until SIGTERM (running syncs finish first).

    Needs KOPPEL_BROKER_URL. Scale out with more processes here, or more containers
    ('docker compose up --scale worker=N'): every worker takes from the same queues.
    """
    from core.probes import check_broker
    from core.settings import get_settings
    from workers import metrics

    settings = get_settings()
    if settings.broker_url:  # without it the runner says what to set
        check_broker(settings.broker_url)  # one line now, not a worker retrying in its log
    metrics_port = metrics_port or settings.metrics_port
    if metrics_port is not None:
        metrics.prepare()  # before anything imports prometheus_client
    from workers.runner import run_workers

    try:
        sys.exit(run_workers(processes, threads, heartbeat_file, metrics_port))
    except KoppelError as exc:
        fail(exc)
