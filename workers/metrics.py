"""Prometheus metrics of the worker processes, scraped once for all of them (multiprocess mode).

prometheus_client picks its storage when it is first imported: ``prepare()`` must run before
that, in the process that starts the workers, so every worker process writes its samples to
files in one directory and ``serve()`` adds them up for a scrape.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from core.hookspecs import hookimpl

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(directory: Path | None = None) -> Path:
    """Point prometheus_client at an empty directory shared by this process and its children."""
    path = directory or Path(tempfile.gettempdir()) / f"koppel-metrics-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)  # samples of an earlier run would be added in
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def serve(port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 (a container's metrics port)
    """Serve /metrics for every worker process on ``port`` (a background thread)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)


def process_exited(pid: int) -> None:
    """Forget the live-only samples (gauges) of a worker process that has ended."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid)


class SyncMetrics:
    """A koppel plugin counting sync runs by outcome and rows by what happened to them."""

    def __init__(self) -> None:
        from prometheus_client import Counter

        self.runs = Counter("koppel_sync_runs", "Sync runs by outcome.", ["source", "outcome"])
        self.rows = Counter(
            "koppel_sync_rows", "Rows changed by syncs, e.g. pupils_created.", ["change"]
        )

    @hookimpl
    def koppel_after_school_sync(
        self, source: str, outcome: str, counts: Mapping[str, int]
    ) -> None:
        self.runs.labels(source=source, outcome=outcome).inc()
        for change, n in counts.items():
            if n and not change.startswith("note_"):
                self.rows.labels(change=change).inc(n)
