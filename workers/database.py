"""The worker process's sessions: built once from the settings, replaceable for tests and demos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.db import PING_AFTER_IDLE_SECONDS, make_engine, make_sessionmaker
from core.settings import get_settings
from core.sync.work import UnitOfWork

log = structlog.get_logger()

_factory: sessionmaker[Session] | None = None


def session_factory() -> sessionmaker[Session]:
    """The process-wide session factory, built on first use from KOPPEL_DATABASE_URL."""
    global _factory
    if _factory is None:
        # Messages follow each other closely: check a connection only after it sat idle.
        engine = make_engine(get_settings().database_url, ping_after_idle=PING_AFTER_IDLE_SECONDS)
        _factory = make_sessionmaker(engine)
    return _factory


def set_session_factory(factory: sessionmaker[Session] | None) -> None:
    """Use ``factory`` for every message from now on (None: back to the settings)."""
    global _factory
    _factory = factory


def warm_up() -> None:
    """Build the engine and open a first connection before the first message arrives.

    Otherwise the first message of each process pays for importing the driver, building the
    engine and connecting (about 0.3 s), at the head of the night's queue. Best effort: a
    database that is down now is reported, and each message tries again as it always did.
    """
    try:
        with message_session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The driver's message can hold the connection string; the kind of error is enough.
        log.warning("worker_database_unreachable", error=type(exc).__name__)


@contextmanager
def message_session() -> Iterator[Session]:
    """A session that keeps one pooled connection for the whole message.

    A sync commits several times (lease, run row, apply, release); a plain session hands its
    connection back to the pool at every commit and checks one out (with a ping) for the next
    statement. Held for the message, the connection is checked once; how its transactions are
    arranged is the unit of work's business (UnitOfWork.for_message).
    """
    factory = session_factory()
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        with factory() as session:
            yield session
        return
    with bind.connect() as connection, factory(bind=connection) as session:
        UnitOfWork.for_message(connection)
        yield session


__all__ = [
    "message_session",
    "session_factory",
    "set_session_factory",
    "warm_up",
]
