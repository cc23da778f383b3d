"""Can koppel reach its database and broker: checks behind the CLI, 'koppel doctor' and /ready."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from core import migrate
from core.db import make_engine
from core.errors import BrokerUnavailable, ConfigError, DatabaseUnavailable, SchemaNotReady
from core.settings import DATABASE_URLS


def database_engine(url: str, *, must_exist: bool = True, **engine_options: Any) -> Engine:
    """An engine for ``url`` that has connected once, or an error saying what to do.

    SQLite creates an empty file on connect; with ``must_exist`` a missing file is reported
    (SchemaNotReady) instead, so a command run before 'koppel db upgrade' leaves nothing behind.
    """
    parsed = make_url(url)  # the settings checked that it parses
    sqlite_file = _sqlite_file(parsed)
    if sqlite_file is not None:
        if not sqlite_file.parent.is_dir():
            raise DatabaseUnavailable(
                f"the SQLite database's folder {sqlite_file.parent} does not exist",
                hint="create the folder, or set KOPPEL_DATABASE_URL to a file in an existing one",
            )
        if must_exist and not sqlite_file.exists():
            raise SchemaNotReady(f"there is no database at {sqlite_file} yet")
    try:
        engine = make_engine(url, **engine_options)
    except ImportError as error:  # e.g. postgresql:// names psycopg2, which is not installed
        raise ConfigError(
            f"KOPPEL_DATABASE_URL needs the database driver {error.name!r}, which is not installed",
            hint=f"use {DATABASE_URLS}",
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except exc.DBAPIError as error:
        engine.dispose()
        raise DatabaseUnavailable(
            f"cannot reach the database {_where(parsed)}: {_reason(error)}"
        ) from None
    return engine


def require_schema(engine: Engine) -> str:
    """The schema's revision when it is the one this koppel expects; SchemaNotReady otherwise."""
    found, expected = migrate.current(engine), migrate.head()
    if found is None:
        raise SchemaNotReady("the database holds no koppel schema yet")
    if found != expected:
        raise SchemaNotReady(
            f"the database schema is at revision {found}, this koppel needs {expected}"
        )
    return found


def ping_database(session_factory: Callable[[], Session]) -> None:
    """One round trip on a pooled connection; DatabaseUnavailable when it fails (for /ready)."""
    session = session_factory()
    try:
        session.execute(text("SELECT 1"))
    except exc.DBAPIError as error:
        raise database_failed(error) from None
    finally:
        session.close()


def check_broker(url: str, timeout: float = 5.0) -> None:
    """Open and close one connection to RabbitMQ; BrokerUnavailable saying why it failed."""
    import pika
    from pika import exceptions

    try:
        params = pika.URLParameters(url)
    except Exception:  # pika's parse errors; the URL holds a password: not shown
        raise ConfigError(
            "KOPPEL_BROKER_URL is not a usable RabbitMQ URL",
            hint="use amqp://user:password@host:5672/%2F",
        ) from None
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = params.stack_timeout = params.blocked_connection_timeout = timeout
    where = f"{params.host}:{params.port} (virtual host {params.virtual_host!r})"
    # pika logs every failed step at ERROR, tracebacks included; the error below says it once.
    pika_log = logging.getLogger("pika")
    level = pika_log.level
    pika_log.setLevel(logging.CRITICAL)
    try:
        pika.BlockingConnection(params).close()
    except exceptions.ProbableAuthenticationError:
        raise BrokerUnavailable(
            f"RabbitMQ at {where} refused the user name or password",
            hint="check the user and password in KOPPEL_BROKER_URL",
        ) from None
    except exceptions.ProbableAccessDeniedError:
        raise BrokerUnavailable(
            f"RabbitMQ at {where} refused access to the virtual host",
            hint="create the virtual host and grant the user access, or fix KOPPEL_BROKER_URL",
        ) from None
    except exceptions.AMQPError:
        raise BrokerUnavailable(f"cannot reach RabbitMQ at {where}") from None
    finally:
        pika_log.setLevel(level)


def database_failed(error: exc.DBAPIError) -> DatabaseUnavailable:
    """A database error met while working (the database went away), as one line."""
    return DatabaseUnavailable(f"the database failed: {_reason(error)}")


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("uri") or url.database.startswith("file:"):
        return None  # an SQLite URI (mode=ro, …): SQLite decides
    return Path(url.database)


def _where(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _reason(error: exc.DBAPIError) -> str:
    """The driver's first line: what went wrong, without SQLAlchemy's statement and links."""
    lines = str(error.orig).strip().splitlines()
    return lines[0] if lines else type(error.orig).__name__
