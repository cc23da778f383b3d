"""Prometheus metrics of the worker processes, scraped once for all of them (multiprocess mode).

prometheus_client picks its storage when it is first imported: ``prepare()`` must run before
that, in the process that starts the workers, so every worker process writes its samples to
files in one directory and ``serve()`` adds them up for a scrape.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.hookspecs import hookimpl
from core.sync.failing import FailingSchool, failing_schools
from workers.database import session_factory

log = structlog.get_logger()

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
    registry.register(FailingSchools())
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


class FailingSchools:
    """Schools whose latest runs failed, read from the database at a scrape (at most once a
    READ_EVERY_SECONDS): a fact of the database, not of one process, so every container says
    the same. Only failing schools get a series (at most MAX_SCHOOLS of them, the longest
    streaks); the count covers them all."""

    READ_EVERY_SECONDS = 15.0
    MAX_SCHOOLS = 100

    def __init__(self, sessions: Callable[[], Session] | None = None) -> None:
        self.sessions = sessions
        self._read: tuple[float, list[FailingSchool]] | None = None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        found = self._failing()
        if found is None:
            return  # the database is away: no answer rather than a wrong one
        streaks = GaugeMetricFamily(
            "koppel_school_consecutive_failures",
            "Failed sync runs in a row (retries included) of a school whose latest run failed.",
            labels=["brin6"],
        )
        for school in found[: self.MAX_SCHOOLS]:
            streaks.add_metric([school.brin6], school.failures)
        yield streaks
        yield GaugeMetricFamily(
            "koppel_schools_failing", "Schools whose latest sync run failed.", value=len(found)
        )

    def _failing(self) -> list[FailingSchool] | None:
        now = time.monotonic()
        if self._read is not None and now - self._read[0] < self.READ_EVERY_SECONDS:
            return self._read[1]
        sessions = self.sessions or session_factory()
        try:
            with sessions() as session:
                found = failing_schools(session)
        except SQLAlchemyError as exc:
            log.warning("metrics_failing_schools_unread", error=type(exc).__name__)
            return None
        self._read = (now, found)
        return found
