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
def worker(processes: int, threads: int, heartbeat_file: Path | None) -> None:
    """Process sync messages from RabbitMQ until SIGTERM (running syncs finish first).

    Needs KOPPEL_BROKER_URL. Scale out with more processes here, or more containers
    ('docker compose up --scale worker=N'): every worker takes from the same queues.
    """
    from workers.runner import run_workers

    try:
        sys.exit(run_workers(processes, threads, heartbeat_file))
    except KoppelError as exc:
        fail(exc)
