"""Engine and session factory: one place decides how koppel talks to its database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import structlog
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    create_engine,
    event,
    exc,
    literal_column,
    make_url,
)
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

log = structlog.get_logger()
T = TypeVar("T")

# A pooled connection unused this long is checked before use (see ping_when_idle).
PING_AFTER_IDLE_SECONDS = 10.0


def make_engine(url: str, *, ping_after_idle: float | None = None, **kwargs: object) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout.

    ``hide_parameters``: statement parameters hold names, and SQLAlchemy puts them in the text
    of every StatementError, which ends up in logs; with it, errors show the SQL only.
    A PostgreSQL connection is checked (one round trip) each time it leaves the pool; with
    ``ping_after_idle`` only when it sat idle that many seconds (see ping_when_idle). Its
    cursors describe each result shape once (core/pg_cursor.py).
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("hide_parameters", True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # pysqlite's own transaction handling never sends BEGIN and so breaks savepoints;
            # SQLAlchemy's documented recipe: autocommit driver, explicit BEGIN below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Overwrite deleted content with zeros, in its page and in freed pages ("FAST"
            # leaves freed pages as they were): a pruned audit row leaves no client address
            # in the file once checkpointed (core/scrub.py).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # IMMEDIATE: take the write lock up front and wait for it (busy timeout); a
            # deferred transaction that reads, then writes, fails at once when another
            # thread writes ("database is locked"), whatever the timeout.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", ping_after_idle is None)
    kwargs.setdefault("hide_parameters", True)
    if make_url(url).get_driver_name() == "psycopg":
        from core.pg_cursor import DescribedOnce  # psycopg only where it is used

        connect_args = dict(kwargs.pop("connect_args", None) or {})  # type: ignore[call-overload]
        connect_args.setdefault("cursor_factory", DescribedOnce)
        kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
    if ping_after_idle is not None:
        ping_when_idle(engine, ping_after_idle)
    return engine


def share_restarts(*engines: Engine) -> None:
    """A lost connection seen by one of ``engines`` (on one database) empties every other's pool.

    SQLAlchemy drops a pool's older connections when one of them meets a restart of the
    database, but only that pool's: the others' would each fail a request first.
    """
    for engine in engines:

        def restarted(context: ExceptionContext, seen: Engine = engine) -> None:
            if context.is_disconnect:
                for other in engines:
                    if other is not seen:
                        other.dispose(close=False)  # in-use connections stay with their users

        event.listen(engine, "handle_error", restarted)


def ping_when_idle(engine: Engine, seconds: float) -> None:
    """Check a pooled connection before use only if it sat unused for ``seconds`` or more.

    For workers, whose connections go back and forth between messages many times a second:
    a check per checkout was a third of an unchanged school's statements. A connection that
    broke while in busy use (the database restarted) fails its next statement instead; that
    message is retried, and SQLAlchemy then replaces every pooled connection.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["koppel_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get("koppel_idle_since")
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception:
            # The pool's documented way to say "this one is dead": it connects anew and retries.
            raise exc.DisconnectionError() from None


def constant(value: str) -> ColumnElement[str]:
    """One of the code's own string constants (a run outcome), written into the SQL itself.

    Sent as a parameter, ``outcome = 'running'`` cannot use the partial index on running runs
    in a prepared statement's generic plan, so PostgreSQL would plan every execution anew (or
    read all of a school's runs). Never for data: only plain words are accepted.
    """
    if not value.isidentifier():
        raise ValueError(f"not a plain word: {value!r}")
    return literal_column(f"'{value}'", String)


def uses_psycopg(connection: Connection) -> bool:
    """Is ``connection`` PostgreSQL through psycopg (COPY and driver-level statements)?"""
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def follow_loaded(session: Session, model: Any, key: int, values: Mapping[str, Any]) -> None:
    """After a Core UPDATE of row ``key``: a copy of it loaded in the session takes ``values``
    as its stored state (no reload, nothing marked changed)."""
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        for column, value in values.items():
            set_committed_value(loaded, column, value)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# The isolation level under which each statement is its own transaction (no BEGIN/COMMIT).
AUTOCOMMIT = "AUTOCOMMIT"


def runs_in_autocommit(dialect: Dialect) -> bool:
    """Whether koppel runs one-statement work without BEGIN and COMMIT on this database.

    PostgreSQL: a round trip saved per statement. SQLite keeps its explicit transactions (see
    make_engine: pysqlite's own transaction handling is switched off for them).
    """
    return dialect.name == "postgresql"


def reads_in_autocommit(session: Session) -> None:
    """Run a fresh session's statements on PostgreSQL without BEGIN and COMMIT round trips.

    For a request that reads and at most writes one statement (a login decision): each
    statement is then its own transaction. Call before the session's first statement. A
    session bound to a connection (a test's outer transaction) or to SQLite stays as it is.
    """
    bind = session.get_bind()
    if isinstance(bind, Engine) and runs_in_autocommit(bind.dialect):
        session.connection(execution_options={"isolation_level": AUTOCOMMIT})


def retry_once_on_disconnect(work: Callable[[], T]) -> T:
    """Run ``work``; when the database dropped its connection (a restart), run it once more.

    SQLAlchemy has by then marked every pooled connection older than the error as dead, so
    the second run connects anew. For work whose first run, failed, left nothing behind.
    """
    try:
        return work()
    except exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning("database_connection_lost_retrying", error=type(error.orig).__name__)
        return work()
