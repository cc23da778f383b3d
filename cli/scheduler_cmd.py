"""'koppel scheduler': sends every consented school's nightly sync, spread over the window."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from cli.runtime import fail, metrics_port_option, serve_metrics, session_factory
from core.errors import KoppelError
from core.settings import get_settings


@click.command("scheduler")
@click.option(
    "--heartbeat-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Touched after every poll (for container health checks).",
)
@click.option("--once", is_flag=True, help="Send what is due now, then exit (cron style).")
@metrics_port_option("the scheduler")
def scheduler(heartbeat_file: Path | None, once: bool, metrics_port: int | None) -> None:
    """Run the nightly scheduler until SIGTERM (safe to run as several replicas).

    Without KOPPEL_BROKER_URL the messages stay in this process and a worker thread here
    processes them: the embedded, single-process set-up.
    """
    if not once:
        serve_metrics(metrics_port)
    from scheduler import NightlyScheduler, Window
    from workers.broker import is_in_process
    from workers.enqueue import send_nightly, send_nightly_many
    from workers.inprocess import drain, in_process_worker
    from workers.lifecycle import send_daily

    settings = get_settings()
    try:
        nightly = NightlyScheduler(
            session_factory(),
            Window.from_settings(settings),
            send_nightly,
            daily=send_daily,
            send_many=send_nightly_many,
        )
    except KoppelError as exc:
        fail(exc)
    if once:
        sent = nightly.run_once()
        if is_in_process():
            with in_process_worker():
                drain()
        click.echo(f"sent {sent} sync messages")
        return
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if is_in_process():
        with in_process_worker(threads=1):
            nightly.run(stop, settings.scheduler_poll_seconds, heartbeat_file)
    else:
        nightly.run(stop, settings.scheduler_poll_seconds, heartbeat_file)
