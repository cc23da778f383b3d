"""Hot statements (core/hot.py) answer what SQLAlchemy would, on both backends, errors included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session

from core.hot import HotStatement
from core.models import School, SyncRun, utcnow
from core.sync.runs import describe_error
from tests.conftest import POSTGRES

_school = School.__table__
_run = SyncRun.__table__

RENAME = HotStatement(
    update(_school)
    .where(_school.c.id == bindparam("school_id"), _school.c.consent == "granted")
    .values(name=bindparam("name"), updated_at=bindparam("now"))
    .returning(_school.c.updated_at)
)
RECORD = HotStatement(
    insert(_run)
    .values(
        school_id=bindparam("school_id"),
        trigger=bindparam("trigger"),
        worker=bindparam("worker"),
        started_at=bindparam("now"),
        outcome="unchanged",
        counts=bindparam("counts"),
    )
    .returning(_run.c.id)
)


def test_a_hot_statement_writes_and_returns_what_sqlalchemy_would(
    db: Session, school: School
) -> None:
    now = utcnow()
    connection = db.connection()
    assert RENAME.scalar(connection, {"school_id": school.id, "name": "Hot", "now": now}) == now
    stored = select(_school.c.name, _school.c.updated_at).where(_school.c.id == school.id)
    assert connection.execute(stored).one() == ("Hot", now)
    # The statement's own literal ("granted") is part of it: a school without consent is left.
    school.consent = "revoked"
    db.flush()
    later = now + timedelta(seconds=1)
    assert RENAME.scalar(connection, {"school_id": school.id, "name": "No", "now": later}) is None
    assert connection.execute(stored).one()[0] == "Hot"
    # Typed parameters are processed as SQLAlchemy would: JSON in, the same JSON back.
    params = {"school_id": school.id, "trigger": "nightly", "worker": "w:1", "now": now}
    run_id = RECORD.scalar(connection, {**params, "counts": {"pupils": 3}})
    counts = connection.execute(select(_run.c.counts).where(_run.c.id == run_id)).scalar()
    assert counts == {"pupils": 3}


def test_a_parameter_left_out_is_refused_not_null(db: Session, school: School) -> None:
    with pytest.raises((KeyError, StatementError)):  # KeyError from the driver path
        RENAME.scalar(db.connection(), {"school_id": school.id, "name": "x"})


def test_a_driver_error_is_sqlalchemys_and_shows_no_parameters(db: Session, school: School) -> None:
    secret = "Jansen-worker"  # what would be personal data in a real statement
    params = {"school_id": school.id, "trigger": None, "worker": secret, "now": utcnow()}
    with pytest.raises(IntegrityError) as caught:  # trigger is NOT NULL
        RECORD.scalar(db.connection(), {**params, "counts": None})
    # As on SQLAlchemy's own path (hide_parameters): no parameter list. PostgreSQL's DETAIL
    # line quotes the row; what runs and logs keep is describe_error's first line only.
    assert "[parameters:" not in str(caught.value)
    assert secret not in describe_error(caught.value)


LISTED = HotStatement(select(_school.c.id).where(_school.c.consent.in_(["granted"])))


@pytest.mark.parametrize("db_engine", [POSTGRES], indirect=True)
def test_expanding_lists_are_refused_on_postgresql(db: Session) -> None:
    with pytest.raises(ValueError, match="expanding IN"):
        LISTED.scalar(db.connection(), {})


@pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)
def test_expanding_lists_go_through_sqlalchemy_elsewhere(db: Session) -> None:
    assert LISTED.scalar(db.connection(), {}) is None  # SQLAlchemy expands them itself


# SQLite has no server that can go away.
@pytest.mark.parametrize("db_engine", [POSTGRES], indirect=True)
def test_a_dead_connection_is_invalidated_not_reused(db_engine) -> None:  # type: ignore[no-untyped-def]
    from tests.servers import kill_backend

    ping = HotStatement(select(bindparam("n")))
    with db_engine.connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
        assert ping.scalar(connection, {"n": 1}) == 1
        kill_backend(pid)
        with pytest.raises(OperationalError) as caught:
            ping.scalar(connection, {"n": 2})
        assert isinstance(caught.value, DBAPIError) and caught.value.connection_invalidated
        assert connection.invalidated


@pytest.mark.parametrize("db_engine", [POSTGRES], indirect=True)
def test_a_hot_statement_sends_the_driver_exactly_what_sqlalchemy_sends(
    db: Session, school: School
) -> None:
    """HotStatement re-does part of SQLAlchemy's execution (compiled SQL, the statement's own
    values, bind processors, cursor events): when a SQLAlchemy release changes any of it, the
    two stop agreeing here (pyproject pins SQLAlchemy below 2.2 for that reason)."""
    connection = db.connection()
    sent: list[tuple[str, dict[str, object]]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement, dict(parameters)))

    event.listen(connection, "before_cursor_execute", record)
    try:
        now = utcnow()
        for hot, params in (
            (RENAME, {"school_id": school.id, "name": "Hot", "now": now}),
            (RECORD, {"school_id": school.id, "trigger": "t", "worker": "w", "now": now,
                      "counts": {"pupils": 3}}),
        ):  # fmt: skip
            connection.execute(hot.statement, params)
            hot.scalar(connection, params)
            (ours, our_values), (theirs, their_values) = sent[-1], sent[-2]
            assert ours == theirs
            assert our_values.keys() == their_values.keys()
            for name, value in our_values.items():  # JSON goes as a wrapper: compare its object
                other = their_values[name]
                assert type(value) is type(other), name
                assert getattr(value, "obj", value) == getattr(other, "obj", other), name
    finally:
        event.remove(connection, "before_cursor_execute", record)
