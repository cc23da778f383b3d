"""psycopg cursors that describe a result's columns once per shape, not after every statement.

SQLAlchemy reads ``cursor.description`` after every statement that returns rows, only to learn
that there are rows (a cached statement keeps its own column map), and psycopg builds a new
``Column`` object for every column each time: for the login's 53 columns that was about 0.1 ms
of CPU a login, a tenth of the decision (docs/benchmarks.md, 'Logins'). A description depends
only on the result's column names, types and type modifiers, which the result itself gives
cheaply; so the same shape is answered from a small cache, and any change of a table (a column
added, renamed or retyped) is a new shape, described anew.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import Column

# Each statement's shape once; a process runs a few hundred distinct statements at most, and a
# cache that somehow filled up only costs a description built as before.
SHAPES_KEPT = 1024
_described: dict[tuple[tuple[bytes | None, int, int], ...], tuple[Column, ...]] = {}


class DescribedOnce(psycopg.Cursor[Any]):
    """``psycopg.Cursor`` whose ``description`` is built once per result shape."""

    @property
    def description(self) -> list[Column] | None:
        result = self.pgresult
        if result is None or not result.nfields:
            return super().description
        shape = tuple(
            (result.fname(i), result.ftype(i), result.fmod(i)) for i in range(result.nfields)
        )
        columns = _described.get(shape)
        if columns is None:
            columns = tuple(super().description or ())
            if len(_described) < SHAPES_KEPT:
                _described[shape] = columns
        return list(columns)
