"""A message's unit of work: a step is committed as it ends, ``writing()`` is one transaction."""

from __future__ import annotations

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.models import School
from core.sync.work import UnitOfWork
from tests.sync.conftest import new_school
from workers.database import message_session


def _name_seen_elsewhere(engine: Engine, school_id: int) -> str | None:
    """The school's name as another connection reads it: only what was committed."""
    with engine.connect() as other:
        return other.scalar(select(School.name).where(School.id == school_id))


def _rename(session: Session, school_id: int, name: str) -> None:
    session.execute(update(School).where(School.id == school_id).values(name=name))


def test_a_message_commits_its_steps_and_only_what_writing_commits(
    sessions: sessionmaker[Session], db_engine: Engine
) -> None:
    with sessions() as setup:
        school_id = new_school(setup).id

    with message_session() as session:
        work = UnitOfWork(session)
        with work.step():
            _rename(session, school_id, "stepped")
        assert _name_seen_elsewhere(db_engine, school_id) == "stepped"

        with work.writing():
            _rename(session, school_id, "not committed")
        assert _name_seen_elsewhere(db_engine, school_id) == "stepped"

        with work.writing():
            _rename(session, school_id, "committed")
            work.commit()
        assert _name_seen_elsewhere(db_engine, school_id) == "committed"

        # After writing(), steps are single statements again (autocommit on PostgreSQL).
        with work.step():
            _rename(session, school_id, "stepped again")
        assert _name_seen_elsewhere(db_engine, school_id) == "stepped again"


def test_the_unit_of_work_alone_arranges_a_message_connection(db_engine: Engine) -> None:
    """The worker's autocommit switch is the unit of work's (it used to be core.db's)."""
    import core.db

    assert not hasattr(core.db, "use_autocommit")
    with db_engine.connect() as connection:
        UnitOfWork.for_message(connection)
        level = connection.get_execution_options().get("isolation_level")
    expected = "AUTOCOMMIT" if db_engine.dialect.name == "postgresql" else None
    assert level == expected
