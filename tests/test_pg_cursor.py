"""PostgreSQL results are described once per shape, and a changed table is described anew."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from core.db import make_engine
from tests.conftest import migrated_database


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = make_engine(migrated_database("postgres", tmp_path), pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()


def _described(engine: Engine, sql: str) -> list:  # type: ignore[type-arg]
    with engine.connect() as conn:
        cursor = conn.connection.cursor()
        cursor.execute(sql)
        return list(cursor.description or ())


def test_a_repeated_statement_is_described_once(engine: Engine) -> None:
    # The login's statement through the engine koppel makes: the same columns every time.
    sql = "SELECT id, brin, location_code, name FROM school"
    first, second = _described(engine, sql), _described(engine, sql)
    assert [c.name for c in first] == ["id", "brin", "location_code", "name"]
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_a_changed_table_is_described_anew(engine: Engine) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {table} (a integer)"))
    assert [c.name for c in _described(engine, f"SELECT * FROM {table}")] == ["a"]
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN b varchar(20)"))
    assert [c.name for c in _described(engine, f"SELECT * FROM {table}")] == ["a", "b"]
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} RENAME COLUMN a TO c"))
        conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN b TYPE varchar(40)"))
    described = _described(engine, f"SELECT * FROM {table}")
    assert [c.name for c in described] == ["c", "b"]
    assert described[1].type_display == "varchar(40)"
