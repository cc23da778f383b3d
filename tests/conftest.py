"""Shared fixtures: a migrated database on SQLite and PostgreSQL, rolled back after each test."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from cli import runtime
from core import migrate
from core.db import make_engine, make_sessionmaker
from core.settings import get_settings
from tests.servers import postgres_url

pytest_plugins = ["tests.simulator_fixtures", "tests.browser_fixtures"]

# Every test on PostgreSQL carries the ``postgres`` marker (-m "not postgres" leaves them out).
POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
BACKENDS = ["sqlite", POSTGRES]

# PostgreSQL databases this test session created: dropped when it ends.
_created: list[str] = []
# One database migrated per backend and server, copied for each migrated_database().
_templates: dict[str, str] = {}


def fresh_database_url(backend: str, tmp_dir) -> str:  # type: ignore[no-untyped-def]
    """An empty database of its own on ``backend`` (a new file, or a new PostgreSQL database)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir}/koppel-{uuid.uuid4().hex[:8]}.db"
    return _new_postgres_database(make_url(postgres_url()))


def migrated_database(backend: str, tmp_dir) -> str:  # type: ignore[no-untyped-def]
    """A new database of its own on ``backend`` with koppel's schema.

    A copy of one migrated once per session (a file copy; CREATE DATABASE ... TEMPLATE):
    the same schema as a migration of its own, in a fraction of the time.
    """
    key = "sqlite" if backend == "sqlite" else postgres_url()
    template = _templates.get(key)
    if template is None:
        home = tempfile.mkdtemp(prefix="koppel-template-") if backend == "sqlite" else None
        template = fresh_database_url(backend, home)
        engine = make_engine(template)
        migrate.upgrade(engine)
        engine.dispose()  # no connection may stay open on a template
        _templates[key] = template
    if backend == "sqlite":
        url = fresh_database_url(backend, tmp_dir)
        shutil.copyfile(make_url(template).database, make_url(url).database)  # type: ignore[arg-type]
        return url
    return _new_postgres_database(make_url(template), template=make_url(template).database)


def _new_postgres_database(server: URL, template: str | None = None) -> str:
    name = f"koppel_test_{uuid.uuid4().hex[:10]}"
    copied = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    admin.dispose()
    _created.append(name)
    return server.set(database=name).render_as_string(hide_password=False)


# The modules that take minutes (private servers, processes, benchmarks), slowest first. They
# start first, so that under scripts/test's several processes none is left running one alone
# at the end while the others are done.
SLOW_FIRST = ("tests/chaos/", "tests/bench/", "tests/deploy/", "tests/test_demo.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow modules first (a stable sort: each module's tests stay together, in order)."""

    def rank(item: pytest.Item) -> int:
        starts = [i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)]
        return starts[0] if starts else len(SLOW_FIRST)

    items.sort(key=rank)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL databases the session created (connections left open included)."""
    sqlite_template = _templates.pop("sqlite", None)
    if sqlite_template is not None:
        shutil.rmtree(Path(make_url(sqlite_template).database or "").parent, ignore_errors=True)
    if not _created:
        return
    admin = create_engine(make_url(postgres_url()), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            while _created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{_created.pop()}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def db_engine(request, tmp_path_factory) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """A migrated database per backend, shared by the session."""
    url = fresh_database_url(request.param, tmp_path_factory.mktemp("db"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(db_engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may commit: with create_savepoint its commits become savepoints.
    """
    conn = db_engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def fresh_db_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A migrated, empty SQLite database URL for tests that open their own engine (CLI)."""
    return migrated_database("sqlite", tmp_path)


@pytest.fixture
def session_factory(db_engine: Engine):  # type: ignore[no-untyped-def]
    return make_sessionmaker(db_engine)


@pytest.fixture
def cli_db(fresh_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI's settings point at a fresh SQLite database; caches are cleared around the test."""
    monkeypatch.setenv("KOPPEL_DATABASE_URL", fresh_db_url)
    monkeypatch.delenv("KOPPEL_API_TOKENS", raising=False)
    get_settings.cache_clear()
    runtime.forget_engines()
    try:
        yield fresh_db_url
    finally:
        get_settings.cache_clear()
        runtime.forget_engines()


@pytest.fixture
def private_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A PostgreSQL of this test's own, to restart: never the shared one."""
    from tests.chaos.servers import PrivateServers, require_private_servers

    require_private_servers()
    servers = PrivateServers()
    try:
        servers.start(rabbitmq=False)
        monkeypatch.setenv("KOPPEL_TEST_POSTGRES_URL", servers.postgres_url)
        yield servers
    finally:
        servers.stop()
