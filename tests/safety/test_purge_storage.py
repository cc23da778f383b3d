"""A purge leaves no purged value in the files: SQLite's file and WAL, PostgreSQL's pages.

Every name, e-mail address and group name of the school carries MARK, so one byte search finds
any copy, whatever column, index, dead row version or statistic holds it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from cli import runtime
from core import migrate, scrub
from core.db import make_engine, make_sessionmaker
from core.login.networks import ADMIN_ORIGIN, NetworkEntry, replace_networks
from core.models import Group, Pupil, School
from core.settings import get_settings
from plugins.basispoort.simulator import World
from plugins.basispoort.simulator.state import Group as SimGroup
from plugins.basispoort.simulator.state import SchoolContents
from tests.safety.conftest import denied_login, link
from tests.safety.storage import stored_bytes
from tests.servers import postgres_url
from workers import lifecycle
from workers.actors import sync_school_now
from workers.broker import broker
from workers.inprocess import drain
from workers.lifecycle import consent_sweep, purge_revoked

MARK = "Qzvx"
CLIENT_ADDRESS = "198.51.100.77"


@pytest.fixture
def fresh_db_url(own_db_url: str) -> str:
    """The ``koppel`` fixture's database: this test's own, per backend."""
    return own_db_url


def _mark(contents: SchoolContents) -> None:
    for person in [*contents.pupils.values(), *contents.staff.values()]:
        person.voornaam = f"{MARK}v{person.id}"
        person.achternaam = f"{MARK}a{person.id}"
    for member in contents.staff.values():
        member.emailadres = f"{MARK}{member.id}@school.example"
    for group in [*contents.groepen, *contents.subgroepen]:
        group.naam = f"Groep {MARK} {group.naam}"
    # Without a lasKey a group is keyed by its name: "naam:Groep 3 juf Qzvx".
    contents.groepen.append(SimGroup(None, f"Groep 3 juf {MARK}", (3,)))


def marked_school(world: World) -> int:
    school_id = world.find("quiet")
    world.edit(school_id, _mark)
    return school_id


def eckids(world: World, school_id: int) -> set[str]:
    people = [*world.leerlingen(school_id)["leerlingen"], *world.staf(school_id)["medewerkers"]]
    return {p["eckid"] for p in people if p.get("eckid")}


def add_audit_and_network(engine: Engine, brin6: str) -> None:
    """A denied login (person id, client address) and an admin network with a teacher's name."""
    with make_sessionmaker(engine)() as s:
        school = s.scalars(
            select(School).where(School.brin == brin6[:4], School.location_code == brin6[4:])
        ).one()
        pupil_id = s.scalar(select(Pupil.id).where(Pupil.school_id == school.id).limit(1))
        s.add(denied_login(school.id, pupil_id, CLIENT_ADDRESS))
        replace_networks(
            s, school.id, ADMIN_ORIGIN, [NetworkEntry("192.0.2.0/24", f"lokaal juf {MARK}")]
        )
        s.commit()


def statistics_naming(engine: Engine, needle: str) -> list[str]:
    """Columns whose PostgreSQL statistics (most common values, histogram) hold ``needle``."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT tablename || '.' || attname FROM pg_stats WHERE schemaname = 'public' "
                    "AND (most_common_vals::text LIKE :like OR histogram_bounds::text LIKE :like)"
                ),
                {"like": f"%{needle}%"},
            ).scalars()
        )


def analyze(engine: Engine) -> None:
    """What autovacuum does sooner or later: statistics now hold the school's names."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def assert_nothing_left(engine: Engine, personal: set[bytes]) -> None:
    stored = stored_bytes(engine)
    left = sorted(value.decode() for value in personal if value in stored)
    assert left == [], f"{len(left)} purged values still in the database's files"
    assert statistics_naming(engine, MARK) == []


def test_purge_leaves_no_purged_value_in_the_database_files(koppel, own_engine, sim_world):
    school_id = marked_school(sim_world)
    brin6 = sim_world.school(school_id).brin6
    assert koppel("check", brin6)[0] == 0
    assert koppel("sync", brin6)[0] == 0
    add_audit_and_network(own_engine, brin6)
    analyze(own_engine)
    personal = {MARK.encode(), CLIENT_ADDRESS.encode()} | {
        e.encode() for e in eckids(sim_world, school_id)
    }
    stored = stored_bytes(own_engine)
    assert all(value in stored for value in personal)  # the search finds them before
    assert statistics_naming(own_engine, MARK) or own_engine.dialect.name == "sqlite"

    sim_world.set_consent(school_id, False)
    assert koppel("consent", "sweep", "--day", sim_world.today.isoformat())[0] == 0
    code, out = koppel("purge", "--json")

    assert code == 0, out
    assert json.loads(out)["totals"] == {
        "pupils": len(sim_world.pupil_ids(school_id)),
        "staff": len(sim_world.staf(school_id)["medewerkers"]),
        "groups": len(sim_world.groepen(school_id)["groepen"])
        + len(sim_world.groepen(school_id)["subgroepen"]),
        "networks": 1,
        "login_denials": 1,
    }
    assert_nothing_left(own_engine, personal)
    with make_sessionmaker(own_engine)() as s:
        keys = s.scalars(select(Group.source_key)).all()
        assert keys and all(key.startswith("purged:") for key in keys)


def revoked(koppel, sim_world: World) -> int:  # type: ignore[no-untyped-def]
    """A marked school, synced, then revoked: due for the purge."""
    school_id = marked_school(sim_world)
    brin6 = sim_world.school(school_id).brin6
    koppel("check", brin6)
    koppel("sync", brin6)
    sim_world.set_consent(school_id, False)
    koppel("consent", "sweep", "--day", sim_world.today.isoformat())
    return school_id


# SQLite has no MVCC row versions nor lock timeouts (VACUUM waits its turn): PostgreSQL only.
only_postgres = pytest.mark.parametrize("own_db_url", ["postgres"], indirect=True)


@only_postgres
def test_a_scrub_waits_for_transactions_older_than_the_purge(
    koppel, own_engine, sim_world, monkeypatch
):
    monkeypatch.setattr(scrub, "SNAPSHOT_WAIT_SECONDS", 0.2)
    revoked(koppel, sim_world)
    reader = own_engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        # A report that began before the purge: its snapshot still sees the names.
        assert reader.execute(text("SELECT count(*) FROM pupil")).scalar()
        code, out = koppel("purge")
        # Rewriting now would copy the rows the reader may still see into the new files.
        assert code == 1
        assert "purged 1 schools" in out
        # At least the reader's: other sessions on the server (scripts/test's other processes)
        # may hold transactions of their own that began before the purge.
        waited = re.search(
            r"after 0\.2 s, (\d+) open transaction\(s\) that began before the purge may still", out
        )
        assert waited and int(waited.group(1)) >= 1, out
        assert "(oldest: backend pid " in out
        assert "run 'koppel purge --scrub' again" in out
    finally:
        reader.rollback()
        reader.close()
    assert MARK.encode() in stored_bytes(own_engine)
    # The reader is gone; other sessions' transactions end within the usual wait.
    monkeypatch.setattr(scrub, "SNAPSHOT_WAIT_SECONDS", 60.0)

    code, out = koppel("purge", "--scrub")

    assert code == 0, out
    assert "purged 0 schools" in out
    assert_nothing_left(own_engine, {MARK.encode()})


@only_postgres
def test_a_rewrite_that_cannot_get_its_lock_gives_up_and_says_so(
    koppel, own_engine, sim_world, monkeypatch
):
    monkeypatch.setattr(scrub, "LOCK_TIMEOUT", "100ms")
    revoked(koppel, sim_world)
    with own_engine.connect() as holder:
        holder.execute(text("LOCK TABLE pupil IN ACCESS SHARE MODE"))  # no snapshot kept
        code, out = koppel("purge")
        holder.rollback()

    assert code == 1
    assert "could not be rewritten: a lock was not granted within 100ms" in out
    assert koppel("purge", "--scrub")[0] == 0
    assert_nothing_left(own_engine, {MARK.encode()})


def test_the_nightly_purge_actor_scrubs_the_files_too(own_worker, own_engine, sim_world):
    school_id = marked_school(sim_world)
    with make_sessionmaker(own_engine)() as s:
        linked = link(s, sim_world, school_id).id
    sync_school_now.send(linked)
    drain()
    add_audit_and_network(own_engine, sim_world.school(school_id).brin6)
    analyze(own_engine)
    assert MARK.encode() in stored_bytes(own_engine)

    sim_world.set_consent(school_id, False)
    consent_sweep.send(sim_world.today.isoformat())
    drain()
    purge_revoked.send()  # sends scrub_purged when it cleared anything
    drain()

    assert not broker.dead_letters
    assert_nothing_left(own_engine, {MARK.encode(), CLIENT_ADDRESS.encode()})


def test_a_scrub_that_had_to_give_up_is_retried_not_dead_lettered():
    retry = lifecycle.scrub_purged.options["retry_when"]
    waited = scrub.ScrubIncomplete("a lock was not granted")
    assert retry(0, waited) and retry(1, waited)
    assert not retry(get_settings().sync_max_retries, waited)


@pytest.fixture
def owner_db_url() -> Iterator[str]:
    """A migrated PostgreSQL database owned by a role of its own that is no superuser."""
    base = make_url(postgres_url())
    role = f"koppel_owner_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{role}" OWNER "{role}"'))
    url = base.set(username=role, database=role).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{role}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.parametrize("own_db_url", ["postgres"], indirect=True)
def test_a_database_owner_that_is_no_superuser_scrubs_everything(
    koppel, sim_world, monkeypatch, owner_db_url
):
    # koppel's role in production: it owns its database, it is no superuser.
    monkeypatch.setenv("KOPPEL_DATABASE_URL", owner_db_url)
    get_settings.cache_clear()
    runtime.forget_engines()
    superuser = make_url(owner_db_url).set(username=make_url(postgres_url()).username)
    as_superuser = make_engine(superuser.render_as_string(hide_password=False))
    try:
        school_id = revoked(koppel, sim_world)
        analyze(as_superuser)
        assert MARK.encode() in stored_bytes(as_superuser)

        code, out = koppel("purge")

        assert code == 0, out
        assert "scrub_cannot_see_other_sessions" in out  # it says what it cannot check
        assert "statistics_not_rewritten" not in out  # an owner may rewrite pg_statistic
        personal = {MARK.encode()} | {e.encode() for e in eckids(sim_world, school_id)}
        assert_nothing_left(as_superuser, personal)
    finally:
        as_superuser.dispose()
