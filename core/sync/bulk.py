"""Bulk inserts for the apply: COPY on PostgreSQL (psycopg 3), a bulk INSERT elsewhere."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, insert
from sqlalchemy.orm import Session


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, column values ready) into ``model``'s table.

    On PostgreSQL with psycopg the rows go through COPY in the session's transaction: about
    twice the rate of a pipelined INSERT, which matters for a night of 1.5 million pupils.
    Column defaults of the model are not applied there: rows must carry every value they need.
    """
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy(conn, model.__table__, rows)
    else:
        session.execute(insert(model), rows)


def _copy(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    from psycopg.types.json import Json

    columns = list(rows[0])
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    quote = conn.dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        if any(as_json):
            for row in rows:
                copy.write_row(
                    [
                        Json(row[c]) if j and row[c] is not None else row[c]
                        for c, j in zip(columns, as_json, strict=True)
                    ]
                )
        else:
            for row in rows:
                copy.write_row([row[c] for c in columns])
