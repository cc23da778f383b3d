"""What a database keeps on disk, read back as bytes: purged values must not be found in it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError


def stored_bytes(engine: Engine) -> bytes:
    """Everything the database keeps on disk: SQLite's files, or every PostgreSQL page."""
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        # Every relation with storage in this database: tables, indexes, TOAST, catalogs.
        relations = conn.execute(
            text(
                "SELECT oid::regclass::text, pg_relation_size(oid) / current_setting('block_size')"
                "::int FROM pg_class WHERE relkind IN ('r', 'i', 't', 'm') "
                "AND relpersistence = 'p'"
            )
        ).all()
        pages = []
        for name, blocks in relations:
            for block in range(blocks):
                try:
                    page = conn.execute(
                        text("SELECT get_raw_page(:name, :block)"), {"name": name, "block": block}
                    ).scalar_one()
                except DataError:  # autovacuum truncated the relation meanwhile
                    break
                pages.append(bytes(page))
    return b"".join(pages)
