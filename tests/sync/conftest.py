"""Fixtures for sync tests: a linked school with consent, a fake source and its plugins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from core.models import Group, Pupil, PupilSubgroup, School, Staff, StaffGroup, SyncRun
from core.plugins import Plugins
from tests.fakes import FAKE_SCHOOL_ID, FakeSource, FakeSourcePlugin, fake_plugins, make_snapshot


def new_school(db: Session) -> School:
    """A linked school with consent, unique in the database.

    Unique on purpose: the shared SQLite test database does not roll back every test's commits
    (pysqlite and SAVEPOINT), so no test may assume it is alone there.
    """
    token = uuid.uuid4().hex
    school = School(
        brin=token[:4].upper(),
        location_code=token[4:6],
        source="fake",
        source_school_id=f"{FAKE_SCHOOL_ID}-{token[6:16]}",
        consent="granted",
    )
    db.add(school)
    db.commit()
    return school


@pytest.fixture
def school(db: Session) -> School:
    return new_school(db)


@pytest.fixture
def source(school: School) -> FakeSource:
    return FakeSource(make_snapshot(source_school_id=school.source_school_id))


@pytest.fixture
def faked(source: FakeSource) -> tuple[Plugins, FakeSourcePlugin]:
    return fake_plugins(source)


@pytest.fixture
def plugins(faked: tuple[Plugins, FakeSourcePlugin]) -> Plugins:
    return faked[0]


@pytest.fixture
def plugin(faked: tuple[Plugins, FakeSourcePlugin]) -> FakeSourcePlugin:
    return faked[1]


class Statements:
    """SQL statements sent to the database while recording (what the driver executes)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def writes(self, *tables: str) -> list[str]:
        """INSERT/UPDATE/DELETE statements touching any of ``tables``."""
        found = []
        for sql in self.sql:
            words = sql.split()
            verb = words[0].upper() if words else ""
            if verb not in ("INSERT", "UPDATE", "DELETE"):
                continue
            target = words[2] if verb in ("INSERT", "DELETE") else words[1]
            if target.strip('"') in tables:
                found.append(sql)
        return found


@contextmanager
def recording(db: Session | Engine) -> Iterator[Statements]:
    """Record every statement the session's connection (or any of the engine's) executes."""
    statements = Statements()
    conn = db.connection() if isinstance(db, Session) else db

    def before(_conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        statements.sql.append(statement)

    event.listen(conn, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(conn, "before_cursor_execute", before)


PEOPLE_TABLES = (
    "pupil",
    "staff",
    "school_group",
    "pupil_subgroup",
    "staff_group",
    "school_network",
)


def rows_written(db: Session, tables: tuple[str, ...] = PEOPLE_TABLES) -> int | None:
    """Rows inserted, updated or deleted in ``tables`` by this transaction so far (PostgreSQL).

    PostgreSQL counts them itself, so COPY and other statements sent straight to the driver
    (which SQLAlchemy events do not see) are counted too. None on other backends.
    """
    if db.get_bind().dialect.name != "postgresql":
        return None
    return db.scalar(
        text(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = ANY(:tables)"
        ),
        {"tables": list(tables)},
    )


def stamps(db: Session, school: School) -> dict[str, list[tuple[int, object]]]:
    """Every synced row's (id, updated_at), to prove that nothing was written."""
    return {
        model.__tablename__: list(
            db.execute(
                select(model.id, model.updated_at)
                .where(model.school_id == school.id)
                .order_by(model.id)
            )
        )
        for model in (Group, Pupil, Staff)
    }


def count(db: Session, school: School, model: type, *where: object) -> int:
    """Rows of ``model`` belonging to ``school`` (memberships through their person)."""
    query = select(func.count()).select_from(model)
    if model is PupilSubgroup:
        query = query.join(Pupil, Pupil.id == PupilSubgroup.pupil_id)
        owner: type = Pupil
    elif model is StaffGroup:
        query = query.join(Staff, Staff.id == StaffGroup.staff_id)
        owner = Staff
    else:
        owner = model
    return db.scalar(query.where(owner.school_id == school.id, *where)) or 0


def last_run(db: Session, school: School) -> SyncRun:
    return db.scalars(
        select(SyncRun).where(SyncRun.school_id == school.id).order_by(SyncRun.id.desc())
    ).first()
