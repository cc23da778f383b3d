"""A run's life in one place: before-hook, failure recorded with its reason, after-hook, log."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from core.errors import DatabaseUnavailable, InternalError, KoppelError, StorageError
from core.models import Outcome
from core.plugins import Plugins
from core.sync.runs import describe_error, record_failure
from core.sync.work import UnitOfWork

log = structlog.get_logger()


@dataclass(slots=True)
class RunLife:
    """A started run as its life sees it; the block says how it ended with ``end``."""

    school_id: int
    source: str
    run_id: int
    trigger: str
    outcome: Outcome = Outcome.FAILED
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    ended: bool = False

    def end(
        self, outcome: Outcome, counts: Mapping[str, int] | None = None, error: str | None = None
    ) -> None:
        """Say how the run ended (the block has recorded it); an error after this fails nothing."""
        self.outcome, self.counts, self.error, self.ended = outcome, counts or {}, error, True


@contextmanager
def run_life(
    work: UnitOfWork,
    plugins: Plugins,
    life: RunLife,
    *,
    started: float | None = None,
    before: bool = True,
) -> Iterator[RunLife]:
    """Live ``life``'s run (already recorded as started): the hooks in the order
    core/hookspecs.py promises, a failure recorded with its reason, one "sync_run" log line.

    ``before``: call koppel_before_school_sync on entry (False: the caller called it, or no
    plugin implements it). An exception before ``end`` rolls back, records the run failed and
    is raised again; a foreign one as our error class, without its data (SQL parameters and
    rows hold names). ``started``: time.monotonic() when the run's work began.
    """
    clock = time.monotonic() if started is None else started
    ids = {"school_id": life.school_id, "run_id": life.run_id}
    with structlog.contextvars.bound_contextvars(**ids):
        try:
            if before:
                plugins.before_school_sync(source=life.source, **ids)
            yield life
        except BaseException as exc:
            if life.ended:
                raise
            life.outcome, life.counts, life.error = Outcome.FAILED, {}, describe_error(exc)
            try:
                work.rollback()
            finally:
                record_failure(work.session, life.run_id, life.error)
            if isinstance(exc, KoppelError) or not isinstance(exc, Exception):
                raise
            raise wrapped(exc)(f"run {life.run_id} failed: {life.error}") from None
        finally:
            plugins.after_school_sync(
                source=life.source, outcome=life.outcome, counts=life.counts, **ids
            )
            (log.info if life.outcome != Outcome.FAILED else log.warning)(
                "sync_run",
                outcome=str(life.outcome),
                trigger=life.trigger,
                counts={k: v for k, v in life.counts.items() if v},
                error=life.error,
                duration_ms=round((time.monotonic() - clock) * 1000),
            )


def wrapped(exc: BaseException) -> type[KoppelError]:
    """Our class for a foreign error: the database down (retried), else broken, else a bug."""
    # COPY goes to the driver directly, so its errors are the driver's, not SQLAlchemy's.
    driver = type(exc).__module__.partition(".")[0] in ("psycopg", "sqlite3")
    if not (driver or isinstance(exc, SQLAlchemyError)):
        return InternalError
    # PEP 249 names a lost connection, a server shutting down, a deadlock or a lock timeout
    # OperationalError, a broken client-side connection InterfaceError.
    outage = isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
    if driver:
        outage = any(
            k.__name__ in ("OperationalError", "InterfaceError") for k in type(exc).__mro__
        )
    return DatabaseUnavailable if outage else StorageError
