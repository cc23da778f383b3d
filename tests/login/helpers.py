"""Helpers of the login tests: asking the API, reading what it stored, seeding refused logins."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import make_engine
from core.login.attempt import make_attempt
from core.login.client_address import derive_client_address
from core.login.evaluate import evaluate_login
from core.login.identity import LoginIdentity, resolve_identity
from core.models import LoginDenial, Pupil, School, SchoolNetwork
from core.settings import load_settings
from tests.login.conftest import HOME, SCHOOL_NET, add_pupil, add_school, login_plugins


def evaluate(api: httpx.Client, body: dict) -> dict:
    response = api.post("/v1/logins/evaluate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def denials_of(db: Session, school_id: int) -> list[LoginDenial]:
    db.expire_all()
    query = select(LoginDenial).where(LoginDenial.school_id == school_id).order_by(LoginDenial.id)
    return list(db.scalars(query))


def stored_networks(db: Session, school_id: int) -> list[tuple[str, str | None]]:
    db.expire_all()
    rows = db.scalars(select(SchoolNetwork).where(SchoolNetwork.school_id == school_id))
    return sorted((row.network, row.description) for row in rows)


def deny_logins(url: str) -> tuple[str, str, int]:
    """Two schools; a pupil of each refused from home. Returns the BRIN6s and a pupil id."""
    engine = make_engine(url)
    with Session(engine) as db:
        brins, pupil_id = [], 0
        for _ in range(2):
            school = add_school(db)
            db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
            pupil = add_pupil(db, school)
            identity = LoginIdentity("basispoort", school.source_ref, user_id=pupil.source_id)
            attempt = make_attempt(
                db,
                resolve_identity(db, identity),
                derive_client_address(HOME),
                datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
            )
            evaluate_login(db, attempt, login_plugins(), load_settings())
            brins.append(school.brin6)
            pupil_id = pupil.id
        db.commit()
    engine.dispose()
    return brins[0], brins[1], pupil_id


def school_with_pupil(url: str) -> tuple[School, Pupil]:
    """A consenting school with its network (SCHOOL_NET) and one pupil, in the database at url."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        school = add_school(db)
        db.add(SchoolNetwork(school_id=school.id, network=SCHOOL_NET, origin="admin"))
        pupil = add_pupil(db, school)
        db.commit()
    engine.dispose()
    return school, pupil
