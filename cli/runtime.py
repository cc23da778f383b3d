"""What every command needs: settings, logging, a database session and the plugins."""

from __future__ import annotations

import errno
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core import migrate
from core.db import make_sessionmaker
from core.errors import KoppelError
from core.plugins import Plugins, get_plugins
from core.probes import database_engine, require_schema
from core.settings import get_settings


@cache
def checked_engine(**engine_options: Any) -> Engine:
    """An engine on the configured database, once it answers and holds the expected schema.

    Checked here, before any command touches a table: a missing database, schema or driver is
    one line saying what to do (see core.probes), and no empty SQLite file is left behind.
    ``engine_options`` go to core.db.make_engine (the API's pool size, for one).
    """
    engine = database_engine(get_settings().database_url, **engine_options)
    try:
        require_schema(engine)
    except KoppelError:
        engine.dispose()
        raise
    return engine


def session_factory(**engine_options: Any) -> sessionmaker[Session]:
    """Sessions on ``checked_engine(**engine_options)``."""
    return _sessions_on(checked_engine(**engine_options))


@cache
def _sessions_on(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def forget_engines() -> None:
    """Make the next command's engines anew (for tests that change the configured database)."""
    checked_engine.cache_clear()
    _sessions_on.cache_clear()


@contextmanager
def session() -> Iterator[Session]:
    """A session for one command; commits are the domain code's, this only closes."""
    s = session_factory()()
    try:
        yield s
    finally:
        s.close()


def upgrade_database(revision: str = "head") -> str | None:
    """Create or upgrade the configured database's schema; returns the revision it is at."""
    engine = database_engine(get_settings().database_url, must_exist=False)
    try:
        migrate.upgrade(engine, revision)
        return migrate.current(engine)
    finally:
        engine.dispose()


def plugins() -> Plugins:
    return get_plugins()


def local_time(at: datetime | str | None) -> str:
    """A moment (or its ISO text, as in --json) as an operator reads it: in the schools' time
    zone, to the minute; '-' for none."""
    if at is None:
        return "-"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(get_settings().zone).strftime("%Y-%m-%d %H:%M")


@contextmanager
def progress(what: str, total: int) -> Iterator[Callable[[str], None]]:
    """A progress bar on stderr while ``total`` schools are worked through (none for one);
    yields ``advance(done)``, to call with the school just done."""
    if total <= 1:
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=total)
        yield lambda done: bar.update(task, advance=1, description=done)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextmanager
def listening(what: str, host: str, port: int) -> Iterator[None]:
    """Turn 'address already in use' while ``what`` binds host:port into one line."""
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise KoppelError(
            f"{what} cannot listen on {host}:{port}: the port is already in use",
            hint="stop the process that uses it, or choose another one with --port",
        ) from None


def metrics_port_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The --metrics-port option of a long-running command."""
    return click.option(
        "--metrics-port",
        type=click.IntRange(1, 65535),
        help=f"Serve Prometheus metrics of {what} on this port (/metrics); "
        "default: KOPPEL_METRICS_PORT.",
    )


def serve_metrics(port: int | None) -> None:
    """Serve this process's Prometheus metrics on ``port`` (or KOPPEL_METRICS_PORT), the way the
    workers do (workers/metrics.py); call it before anything imports prometheus_client."""
    port = port or get_settings().metrics_port
    if port is None:
        return
    from workers import metrics

    metrics.prepare()
    with listening("the metrics endpoint", "0.0.0.0", port):  # noqa: S104 (a container's port)
        metrics.serve(port)


def fail(exc: KoppelError, code: int = 1) -> None:
    """Print a KoppelError as one readable line (no traceback) and exit."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(code)
