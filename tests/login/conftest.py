"""Fixtures for login tests: seeded schools and people, and the real API served over HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

import plugins.ip_restriction.hooks as ip_restriction_hooks
from api.app import create_app
from core.login.facts import LoginPerson, LoginSchool
from core.login.networks import ADMIN_ORIGIN
from core.models import Pupil, School, SchoolNetwork, Staff
from core.plugins import Plugins, make_plugin_manager
from core.settings import load_settings
from tests.live_server import serve

TOKEN = "test-token-0123456789abcdef"
SCHOOL_NET = "192.0.2.0/24"
SCHOOL_NET_V6 = "2001:db8:12::/48"  # delivered by the identity source
INSIDE = "192.0.2.55"
INSIDE_V6 = "2001:db8:12:5::9"
HOME = "198.51.100.7"
HOME_V6 = "2001:db8:99::1"
PROXY_NET = "10.0.0.0/8"
# Personal data of the seeded people: it must never reach the audit.
NAMES = ("Fleur", "Jansen", "Sanne", "Vries", "Daan", "Bakker")


def unique_brin6() -> tuple[str, str]:
    """A fresh, valid BRIN and location: SQLite keeps some commits between tests."""
    return (
        f"{secrets.randbelow(90) + 10}{secrets.token_hex(1).upper()}",
        f"{secrets.randbelow(100):02d}",
    )


@dataclass
class Seed:
    school: School  # consent granted, an admin IPv4 network and a source IPv6 network
    pupil: Pupil
    left_pupil: Pupil
    teacher: Staff
    bare_school: School  # consent granted, no networks at all
    bare_pupil: Pupil
    closed_school: School  # never gave consent
    closed_pupil: Pupil


def seen(row: School | Pupil | Staff) -> LoginSchool | LoginPerson:
    """A seeded row as a login decision sees it (core.login.facts)."""
    if isinstance(row, School):
        return LoginSchool.of(row)
    return LoginPerson.of("pupil" if isinstance(row, Pupil) else "staff", row)


def add_school(db: Session, consent: str = "granted", **fields: Any) -> School:
    brin, location = unique_brin6()
    token = secrets.token_hex(6)
    school = School(
        brin=brin,
        location_code=location,
        name="Basisschool De Test",
        source="basispoort",
        source_school_id=f"7{int(token, 16)}",
        source_ref=f"ref-{token}",
        consent=consent,
        **fields,
    )
    db.add(school)
    db.flush()
    return school


def add_pupil(db: Session, school: School, **fields: Any) -> Pupil:
    fields.setdefault("source_id", str(secrets.randbelow(10**12)))
    fields.setdefault("eckid", f"https://ketenid.nl/201703/{secrets.token_hex(16)}")
    fields = {"first_name": "Fleur", "last_name": "Jansen", **fields}
    pupil = Pupil(school_id=school.id, source="basispoort", row_hash="0" * 32, **fields)
    db.add(pupil)
    db.flush()
    return pupil


def add_staff(db: Session, school: School, **fields: Any) -> Staff:
    fields.setdefault("source_id", str(secrets.randbelow(10**12)))
    fields.setdefault("roles", ["Leerkracht"])
    staff = Staff(
        school_id=school.id,
        source="basispoort",
        first_name="Sanne",
        prefix="de",
        last_name="Vries",
        email="sanne.devries@school.example",
        eckid=f"https://ketenid.nl/201703/{secrets.token_hex(16)}",
        row_hash="0" * 32,
        **fields,
    )
    db.add(staff)
    db.flush()
    return staff


@pytest.fixture
def seed(db: Session) -> Seed:
    school = add_school(db)
    db.add_all(
        [
            SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin=ADMIN_ORIGIN),
            SchoolNetwork(school_id=school.id, network=SCHOOL_NET_V6, origin="basispoort"),
        ]
    )
    bare_school = add_school(db)
    closed_school = add_school(db, consent="none")
    seeded = Seed(
        school=school,
        pupil=add_pupil(db, school),
        left_pupil=add_pupil(
            db, school, first_name="Daan", left_at=datetime(2026, 8, 1, tzinfo=UTC)
        ),
        teacher=add_staff(db, school, end_date=date(2099, 7, 31)),
        bare_school=bare_school,
        bare_pupil=add_pupil(db, bare_school),
        closed_school=closed_school,
        closed_pupil=add_pupil(db, closed_school),
    )
    db.commit()
    return seeded


def login_body(
    school: School, person: Pupil | Staff | None, peer: str, **extra: Any
) -> dict[str, Any]:
    """An evaluate request for ``person`` (by Basispoort id) at ``school`` (by instellingRef)."""
    body: dict[str, Any] = {
        "source": "basispoort",
        "school_ref": school.source_ref,
        "user_id": person.source_id if person is not None else "404404404",
        "peer_address": peer,
    }
    body.update(extra)
    return body


def login_plugins(*extra: object) -> Plugins:
    """The built-in IP restriction plus ``extra`` plugins; no entry points (no Basispoort)."""
    return Plugins(make_plugin_manager(entry_points=False, extra=[ip_restriction_hooks, *extra]))


MakeApi = Callable[..., httpx.Client]


def sessions_on(db: Session) -> Callable[[], Session]:
    """Sessions for the API on the test's connection: the test's rollback undoes their commits."""

    def session_factory() -> Session:
        return Session(
            bind=db.get_bind(), join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    return session_factory


@pytest.fixture
def make_api(db: Session) -> Iterator[MakeApi]:
    """Start the real API over HTTP on the test's database; settings are keyword overrides."""
    stack = ExitStack()
    session_factory = sessions_on(db)

    def make(plugins: Plugins | None = None, **settings: Any) -> httpx.Client:
        app = create_app(
            load_settings(**{"api_tokens": [TOKEN], **settings}),
            session_factory=session_factory,
            plugins=plugins or login_plugins(),
        )
        url = stack.enter_context(serve(app))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return stack.enter_context(httpx.Client(base_url=url, headers=headers, timeout=10))

    try:
        yield make
    finally:
        stack.close()


@pytest.fixture
def api(make_api: MakeApi) -> httpx.Client:
    return make_api()
