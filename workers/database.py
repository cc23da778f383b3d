"""The worker process's sessions: built once from the settings, replaceable for tests and demos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_sessionmaker, single_statements, use_autocommit
from core.settings import get_settings
from workers.known import known_schools

_factory: sessionmaker[Session] | None = None

# A pooled connection unused this long is checked before a message uses it.
PING_AFTER_IDLE_SECONDS = 10.0


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
    known_schools.clear()  # what the process knew came from the other database


@contextmanager
def message_session() -> Iterator[Session]:
    """A session that keeps one pooled connection for the whole message.

    A sync commits several times (lease, run row, apply, release); a plain session hands its
    connection back to the pool at every commit and checks one out (with a ping) for the next
    statement. Held for the message, the connection is checked once; on PostgreSQL it runs in
    autocommit, and the engine opens real transactions where it writes people (db.transaction).
    """
    factory = session_factory()
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        with factory() as session:
            yield session
        return
    with bind.connect() as connection, factory(bind=connection) as session:
        use_autocommit(connection)
        yield session


__all__ = ["message_session", "session_factory", "set_session_factory", "single_statements"]
