"""A worker process connects before its first message, and starts even when it cannot."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from structlog.testing import capture_logs

from core.db import make_engine, make_sessionmaker
from workers.database import set_session_factory, warm_up


def test_warm_up_opens_a_connection_before_the_first_message(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'warm.db'}")
    connected: list[object] = []
    event.listen(engine, "connect", lambda dbapi, record: connected.append(dbapi))
    set_session_factory(make_sessionmaker(engine))
    try:
        warm_up()
        assert len(connected) == 1
        assert engine.pool.checkedin() == 1  # back in the pool, ready for the first message
    finally:
        set_session_factory(None)
        engine.dispose()


def test_a_database_that_is_down_is_reported_and_the_worker_starts() -> None:
    # Nothing listens on port 9 (discard): the connection is refused at once.
    password = "s3cret-pw"  # must stay out of the log
    engine = make_engine(f"postgresql+psycopg://koppel:{password}@127.0.0.1:9/none")
    set_session_factory(make_sessionmaker(engine))
    try:
        with capture_logs() as logs:
            warm_up()  # does not raise
    finally:
        set_session_factory(None)
        engine.dispose()
    (line,) = [entry for entry in logs if entry["event"] == "worker_database_unreachable"]
    assert line["log_level"] == "warning"
    assert line["error"] == "OperationalError"
    assert password not in repr(logs)
