"""decide_login, the one door every login goes through: identity, scope, policies, audit."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.login.client_address import derive_client_address
from core.login.decide import decide_login
from core.login.identity import LoginIdentity
from core.models import LoginDenial
from core.settings import load_settings
from tests.login.conftest import HOME, INSIDE, Seed, login_plugins

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def decide(db: Session, seed: Seed, peer: str, **kwargs):  # type: ignore[no-untyped-def]
    identity = LoginIdentity(
        "basispoort", school_ref=seed.school.source_ref, user_id=seed.pupil.source_id
    )
    return decide_login(
        db, identity, derive_client_address(peer), NOON, login_plugins(), load_settings(), **kwargs
    )


def test_a_pupil_inside_the_school_network_is_let_in_and_nothing_is_audited(
    db: Session, seed: Seed
):
    attempt, decision = decide(db, seed, INSIDE)
    assert decision.allowed
    assert attempt.person is not None and attempt.person.id == seed.pupil.id
    audited = select(LoginDenial).where(LoginDenial.school_id == seed.school.id)
    assert db.scalars(audited).all() == []


def test_a_pupil_at_home_is_refused_by_the_ip_rule_and_audited(db: Session, seed: Seed):
    _attempt, decision = decide(db, seed, HOME)
    assert not decision.allowed
    rows = db.scalars(select(LoginDenial).where(LoginDenial.school_id == seed.school.id)).all()
    assert [row.person_id for row in rows] == [seed.pupil.id]


def test_a_school_outside_the_callers_schools_is_answered_as_not_linked(db: Session, seed: Seed):
    asked: list[str] = []

    def allowed(brin6: str) -> bool:
        asked.append(brin6)
        return False

    attempt, decision = decide(db, seed, INSIDE, school_allowed=allowed)
    assert asked == [seed.school.brin6]
    assert attempt.school is None and attempt.person is None
    assert [d.policy for d in decision.denials] == ["core:school_unknown"]
    audited = db.scalars(select(LoginDenial).where(LoginDenial.client_address == INSIDE)).all()
    assert any(row.policy == "core:school_unknown" and row.school_id is None for row in audited)
