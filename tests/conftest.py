"""Shared fixtures: a migrated database on SQLite and PostgreSQL, rolled back after each test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core import migrate
from core.db import make_engine, make_sessionmaker
from tests.servers import postgres_url

pytest_plugins = ["tests.simulator_fixtures", "tests.browser_fixtures"]

BACKENDS = ["sqlite", "postgres"]


def fresh_database_url(backend: str, tmp_dir) -> str:  # type: ignore[no-untyped-def]
    """An empty database of its own on ``backend`` (a new file, or a new PostgreSQL database)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir}/koppel-{uuid.uuid4().hex[:8]}.db"
    base = make_url(postgres_url())
    name = f"koppel_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


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
def fresh_db_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A migrated, empty SQLite database URL for tests that open their own engine (CLI)."""
    url = f"sqlite:///{tmp_path}/koppel.db"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def session_factory(db_engine: Engine):  # type: ignore[no-untyped-def]
    return make_sessionmaker(db_engine)
