"""After a purge, rewrite the database's storage so the cleared values leave its files too.

Clearing a column writes a new row version; the old one, with the name, stays in the file:
on SQLite in the page's free space and the WAL, on PostgreSQL as a dead tuple in the table
and its indexes (a plain VACUUM makes that space reusable but does not overwrite it), and in
the column statistics (``pg_statistic`` keeps most-common values and histogram bounds).

- SQLite: VACUUM rebuilds the file from the live rows; a TRUNCATE checkpoint then empties the
  WAL. Both wait for other connections (busy timeout) and never block readers for long.
- PostgreSQL: ``VACUUM (FULL, ANALYZE)`` rewrites each table that held purged values, with its
  indexes, and computes its statistics anew; ``VACUUM FULL pg_statistic`` then drops the old
  statistics rows (only if koppel's role owns the database; otherwise it is logged). Both keep
  a dead row that an open transaction may still see, so the scrub first waits (at most
  SNAPSHOT_WAIT_SECONDS) for transactions older than the purge to end. FULL holds an exclusive
  lock on each table while it is rewritten, so it waits at most LOCK_TIMEOUT for it;
  ``rewrite=False`` runs a plain VACUUM instead (see KOPPEL_PURGE_REWRITE_TABLES).

What stays in WAL archives and backups is in docs/privacy.md.
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.errors import KoppelError
from core.models import Group, HeldPlan, LoginDenial, Pupil, SchoolNetwork, Staff

log = structlog.get_logger()

# Every table a purge clears values in (core/retention.py).
PURGED_TABLES = tuple(
    m.__tablename__ for m in (Pupil, Staff, Group, SchoolNetwork, LoginDenial, HeldPlan)
)
# A rewrite waits this long for its lock; meanwhile logins queue behind it, so keep it short.
LOCK_TIMEOUT = "10s"
# How long the scrub waits for transactions that began before the purge to end.
SNAPSHOT_WAIT_SECONDS = 60.0
SCRUB_HINT = "run 'koppel purge --scrub' again when the database is quiet"


class ScrubIncomplete(KoppelError):
    """The purged values are cleared, but could not yet be removed from the database's files."""

    hint = SCRUB_HINT


def engine_of(session: Session) -> Engine:
    """The engine behind ``session`` (the scrub needs connections of its own)."""
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def scrub_storage(engine: Engine, *, rewrite: bool = True) -> None:
    """Remove cleared values from the database's files; raises ScrubIncomplete if it could not."""
    started = time.monotonic()
    if engine.dialect.name == "sqlite":
        if not _on_disk(engine):
            return
        _sqlite_statement(engine, "VACUUM")
        if not checkpoint(engine):
            raise ScrubIncomplete("SQLite's WAL could not be emptied: a connection kept reading")
    elif engine.dialect.name == "postgresql":
        _postgres(engine, rewrite)
    log.info(
        "storage_scrubbed",
        backend=engine.dialect.name,
        rewrite=rewrite,
        seconds=round(time.monotonic() - started, 2),
    )


def checkpoint(engine: Engine) -> bool:
    """Move SQLite's WAL into the main file and empty it; False if a reader kept it in use.

    Deleted rows then leave the WAL too (secure_delete zeroes them in their pages, core.db).
    Nothing to do elsewhere: PostgreSQL's autovacuum reclaims deleted rows.
    """
    if engine.dialect.name != "sqlite" or not _on_disk(engine):
        return True
    busy, *_ = _sqlite_statement(engine, "PRAGMA wal_checkpoint(TRUNCATE)")
    return not busy


def _on_disk(engine: Engine) -> bool:
    return engine.url.database not in (None, "", ":memory:")


def _sqlite_statement(engine: Engine, sql: str) -> tuple[int, ...]:
    # The driver connection runs without a transaction (core.db): VACUUM refuses to run in one,
    # and SQLAlchemy's begin hook would open one.
    raw = engine.raw_connection()
    try:
        row = raw.cursor().execute(sql).fetchone()
    except engine.dialect.loaded_dbapi.OperationalError:
        # Another connection kept writing past the busy timeout ("database is locked").
        raise ScrubIncomplete("SQLite stayed locked by another connection") from None
    finally:
        raw.close()
    return tuple(row or ())


def _postgres(engine: Engine, rewrite: bool) -> None:
    tables = ", ".join(PURGED_TABLES)
    options = "FULL, ANALYZE" if rewrite else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _wait_for_older_transactions(conn)
        conn.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            conn.exec_driver_sql(f"VACUUM ({options}) {tables}")
            if _owns_database(conn):
                _wait_for_older_transactions(conn)  # the statistics' old rows, as above
                conn.exec_driver_sql(f"VACUUM {'FULL ' if rewrite else ''}pg_catalog.pg_statistic")
            else:
                log.warning(
                    "statistics_not_rewritten", reason="koppel's role does not own the database"
                )
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            raise ScrubIncomplete(
                f"the purged tables could not be rewritten: a lock was not granted within "
                f"{LOCK_TIMEOUT} (a long transaction is running)"
            ) from None


def _wait_for_older_transactions(conn: Connection) -> None:
    """Wait until nothing may still see the rows as they were before the purge.

    VACUUM keeps a dead row version while a snapshot may still see it, and VACUUM FULL's own
    snapshot counts too: a transaction still writing in any database of the server (its xid),
    one reading in this database (its snapshot's xmin), a prepared transaction or a replication
    slot (a standby's feedback) that began before the purge would have the old names copied
    into the new files. Other roles' sessions are visible only with pg_read_all_stats.
    """
    if not conn.exec_driver_sql(_SEES_ALL_SESSIONS).scalar():
        log.warning("scrub_cannot_see_other_sessions", grant="pg_read_all_stats")
    # An xid taken now is newer than the purge's: anything older may predate the purge.
    since = conn.exec_driver_sql("SELECT mod(txid_current(), 4294967296)::text").scalar()
    deadline = time.monotonic() + SNAPSHOT_WAIT_SECONDS
    while True:
        older = conn.exec_driver_sql(_OLDER_THAN, {"since": since}).scalars().all()
        if not older:
            return
        if time.monotonic() >= deadline:
            raise ScrubIncomplete(
                f"the purged tables were not rewritten: after {SNAPSHOT_WAIT_SECONDS:g} s, "
                f"{len(older)} open transaction(s) that began before the purge may still read "
                f"the old rows (oldest: {older[0]})"
            )
        time.sleep(0.5)


_SEES_ALL_SESSIONS = (
    "SELECT rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') "
    "FROM pg_roles WHERE rolname = current_user"
)
_OLDER_THAN = """
SELECT label FROM (
  SELECT 'backend pid ' || pid AS label, greatest(
      age(backend_xid), CASE WHEN datname = current_database() THEN age(backend_xmin) END
    ) AS age
  FROM pg_stat_activity WHERE pid <> pg_backend_pid()
  UNION ALL
  SELECT 'prepared transaction ' || gid, age(transaction) FROM pg_prepared_xacts
  UNION ALL
  SELECT 'replication slot ' || slot_name, greatest(age(xmin), age(catalog_xmin))
  FROM pg_replication_slots
) AS holders
WHERE age >= age(%(since)s::xid)
ORDER BY age DESC
"""


def _owns_database(conn: Connection) -> bool:
    # VACUUM of a catalog is allowed to superusers and the database's owner; others get a warning.
    return bool(
        conn.exec_driver_sql(
            "SELECT r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER') "
            "FROM pg_database d, pg_roles r "
            "WHERE d.datname = current_database() AND r.rolname = current_user"
        ).scalar()
    )
