"""The worker process's sessions: built once from the settings, replaceable for tests and demos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_sessionmaker
from core.settings import get_settings

_factory: sessionmaker[Session] | None = None


def session_factory() -> sessionmaker[Session]:
    """The process-wide session factory, built on first use from KOPPEL_DATABASE_URL."""
    global _factory
    if _factory is None:
        _factory = make_sessionmaker(make_engine(get_settings().database_url))
    return _factory


def set_session_factory(factory: sessionmaker[Session] | None) -> None:
    """Use ``factory`` for every message from now on (None: back to the settings)."""
    global _factory
    _factory = factory


@contextmanager
def message_session() -> Iterator[Session]:
    """A session that keeps one pooled connection for the whole message.

    A sync commits several times (lease, run row, apply, release); a plain session hands its
    connection back to the pool at every commit and checks one out (with a ping) for the next
    statement. Held for the message, the connection is checked once.
    """
    factory = session_factory()
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        with factory() as session:
            yield session
        return
    with bind.connect() as connection, factory(bind=connection) as session:
        yield session


@contextmanager
def single_statements(session: Session) -> Iterator[None]:
    """Run steps of one statement each (lease, checks) without BEGIN and COMMIT round trips.

    On PostgreSQL the pinned connection of message_session() is put in autocommit for the
    block: each UPDATE is then its own transaction, as with UPDATE + COMMIT, for one round trip
    instead of three. Elsewhere (SQLite, an unpinned session) the block runs as usual.
    """
    bind = session.bind
    if not (isinstance(bind, Connection) and bind.dialect.name == "postgresql"):
        yield
        return
    session.commit()  # the isolation level changes only between transactions
    bind.execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    else:
        # Ends the session's transaction (nothing is sent); unlike a rollback it does not
        # expire the objects loaded, so the engine finds the school without reading it again.
        session.commit()
    finally:
        bind.execution_options(isolation_level=bind.default_isolation_level)
