"""The benchmark's two reference points on the rows koppel wrote: plain COPY and the naive ORM.

Both write into a reference database of their own (migrated like koppel's), so the figures are
for the same rows, the same columns and the same PostgreSQL, and read as ratios on any machine:

- COPY: every pupil and staff row koppel wrote, as COPY data prepared in memory, loaded with
  one COPY per table into empty tables three ways: koppel's own (empty) pupil and staff tables,
  constraints and all (the school and group rows they refer to are copied first, untimed; the
  whole is rolled back), a table with the same columns and indexes but no foreign keys (``LIKE
  ... INCLUDING DEFAULTS INCLUDING INDEXES``), and a bare one without indexes. The first is
  what this schema can take at best, the last what the database ingests at all. Into koppel's
  tables both formats are timed, text and binary (what koppel's own bulk insert uses), and the
  faster one is the reference; the other two are timed in text.
- ORM: the straightforward way, on a sample of schools: per person, look the row up by its
  natural key with select(), then ``session.add`` a new object (or set the attributes of the
  one found), autoflush sending one INSERT per row; one commit per school.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core.models import Group, Pupil, School, Staff

PEOPLE = (Pupil, Staff)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _people_columns(model: Any) -> list[str]:
    return [c.name for c in model.__table__.columns]


def copy_reference(source_url: str, target_url: str) -> dict[str, Any]:
    """People per second by plain COPY into an empty table, with and without indexes."""
    with psycopg.connect(_dsn(source_url)) as source:
        exported = {fmt: _export_people(source, fmt) for fmt in ("text", "binary")}
        rows = {
            model: source.execute(f"SELECT count(*) FROM {model.__table__.name}").fetchone()[0]
            for model in PEOPLE
        }
        parents = {}
        for table in ("school", "school_group"):
            with source.cursor().copy(f"COPY {table} TO STDOUT") as out:
                parents[table] = [bytes(chunk) for chunk in out]
    people = sum(rows.values())
    data = exported["text"]  # the other two tables are loaded in text
    result: dict[str, Any] = {"people": people, "bytes": sum(map(len, _flat(data)))}
    rates: dict[str, float] = {}
    for fmt, chunks in exported.items():
        _empty(target_url)  # a load rolled back leaves dead rows behind: the next starts clean
        with psycopg.connect(_dsn(target_url)) as target:
            for table, parent_chunks in parents.items():
                _copy_in(target, f"COPY {table} FROM STDIN", parent_chunks)
            started = time.perf_counter()
            for model in PEOPLE:
                columns = ", ".join(_people_columns(model))
                _copy_in(
                    target,
                    f"COPY {model.__table__.name} ({columns}) FROM STDIN{_FORMAT[fmt]}",
                    chunks[model],
                )
            seconds = time.perf_counter() - started
            target.rollback()
        result[f"schema_{fmt}_seconds"] = round(seconds, 3)
        rates[fmt] = people / seconds if seconds else 0.0
    # The machine's limit for this schema is the faster of the two.
    fastest = max(rates, key=lambda fmt: rates[fmt])
    result["schema_format"] = fastest
    result["schema_seconds"] = result[f"schema_{fastest}_seconds"]
    result["schema_people_per_second"] = round(rates[fastest]) if rates[fastest] else None
    _empty(target_url)  # and so does the naive ORM reference after this
    with psycopg.connect(_dsn(target_url), autocommit=True) as target:
        for label, like in (("indexed", "INCLUDING DEFAULTS INCLUDING INDEXES"), ("bare", "")):
            seconds = 0.0
            for model in PEOPLE:
                table = model.__table__.name
                copy_table = f"copy_{label}_{table}"
                target.execute(f"DROP TABLE IF EXISTS {copy_table}")
                target.execute(f"CREATE TABLE {copy_table} (LIKE {table} {like})")
                columns = ", ".join(_people_columns(model))
                started = time.perf_counter()
                with (
                    target.transaction(),
                    target.cursor().copy(f"COPY {copy_table} ({columns}) FROM STDIN") as copy,
                ):
                    for chunk in data[model]:
                        copy.write(chunk)
                seconds += time.perf_counter() - started
                target.execute(f"DROP TABLE {copy_table}")
            result[f"{label}_seconds"] = round(seconds, 3)
            result[f"{label}_people_per_second"] = round(people / seconds) if seconds else None
    return result


_FORMAT = {"text": "", "binary": " (FORMAT BINARY)"}


def _export_people(source: psycopg.Connection, fmt: str) -> dict[Any, list[bytes]]:
    """Every pupil and staff row as COPY data in ``fmt``, in memory (the load is timed alone)."""
    data = {}
    for model in PEOPLE:
        table, columns = model.__table__.name, ", ".join(_people_columns(model))
        with source.cursor().copy(
            f"COPY (SELECT {columns} FROM {table} ORDER BY id) TO STDOUT{_FORMAT[fmt]}"
        ) as out:
            data[model] = [bytes(chunk) for chunk in out]
    return data


def _empty(target_url: str) -> None:
    """Koppel's school and people tables emptied for real (new files, no dead rows in them)."""
    with psycopg.connect(_dsn(target_url), autocommit=True) as target:
        target.execute("TRUNCATE school, school_group, pupil, staff CASCADE")


def _copy_in(conn: psycopg.Connection, statement: str, chunks: list[bytes]) -> None:
    with conn.cursor().copy(statement) as copy:
        for chunk in chunks:
            copy.write(chunk)


def _flat(data: dict[Any, list[bytes]]) -> list[bytes]:
    return [chunk for chunks in data.values() for chunk in chunks]


def orm_reference(
    source: Engine, target: Engine, school_ids: Sequence[int], max_people: int
) -> dict[str, Any]:
    """People per second written the naive ORM way, for ``school_ids`` (up to ``max_people``)."""
    todo: list[tuple[int, list[tuple[Any, dict[str, Any]]]]] = []
    people = 0
    with source.connect() as conn:
        for school_id in school_ids:
            school = (
                conn.execute(select(School.__table__).where(School.id == school_id))
                .mappings()
                .one()
            )
            groups = (
                conn.execute(select(Group.__table__).where(Group.school_id == school_id))
                .mappings()
                .all()
            )
            rows = [
                (model, {k: v for k, v in row.items() if k != "id"})
                for model in PEOPLE
                for row in conn.execute(
                    select(model.__table__).where(model.school_id == school_id).order_by(model.id)
                ).mappings()
            ]
            # Groups and the school row are there already, as after the group writes.
            with target.begin() as out:
                out.execute(School.__table__.insert(), [dict(school)])
                if groups:
                    out.execute(Group.__table__.insert(), [dict(g) for g in groups])
            todo.append((school_id, rows))
            people += len(rows)
            if people >= max_people:
                break
    started = time.perf_counter()
    with Session(target) as session:
        for _school_id, rows in todo:
            for model, values in rows:
                found = session.scalar(
                    select(model).where(
                        model.school_id == values["school_id"],
                        model.source == values["source"],
                        model.source_id == values["source_id"],
                    )
                )
                if found is None:
                    session.add(model(**values))
                else:
                    for key, value in values.items():
                        setattr(found, key, value)
            session.commit()
    seconds = time.perf_counter() - started
    return {
        "schools": len(todo),
        "people": people,
        "seconds": round(seconds, 3),
        "people_per_second": round(people / seconds) if seconds else None,
    }
