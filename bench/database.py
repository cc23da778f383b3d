"""The benchmark's databases: dropped when done, and PostgreSQL's own count of rows written."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url


def table_writes(engine: Engine) -> dict[str, dict[str, int]]:
    """Rows PostgreSQL counted as inserted, updated and deleted, per koppel table, so far."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
        ).all()
    return {name: {"ins": ins, "upd": upd, "del": dele} for name, ins, upd, dele in rows}


def writes_since(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """The tables written between two table_writes() readings, with their counts."""
    found = {}
    for table, counts in sorted(after.items()):
        old = before.get(table, {})
        changed = {k: v - old.get(k, 0) for k, v in counts.items()}
        if any(changed.values()) and table != "alembic_version":
            found[table] = changed
    return found


def drop_database(base_url: str, url: str) -> None:
    """Drop the database of ``url``, connected through ``base_url``'s (its sessions ended)."""
    name = make_url(url).database
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
