"""evaluate_login: core's rules first, then every policy; deny wins; shadow; fail closed; audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from core.hookspecs import hookimpl
from core.login import Decision, Denial, LoginAttempt
from core.login import evaluate as evaluate_module
from core.login.attempt import make_attempt
from core.login.client_address import derive_client_address
from core.login.evaluate import evaluate_login
from core.login.identity import LoginIdentity, resolve_identity
from core.models import LoginDenial, Pupil, Staff
from core.plugins import Plugins
from core.settings import load_settings
from tests.login.conftest import (
    HOME,
    INSIDE,
    Seed,
    add_school,
    add_staff,
    login_plugins,
    seen,
)

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Recorder:
    """A test policy that denies on demand and records what it was asked."""

    def __init__(self, name: str, answer: Callable[[LoginAttempt], Any] = lambda a: None):
        self.name = name
        self.answer = answer
        self.seen: list[LoginAttempt] = []

    def judge(self, attempt: LoginAttempt) -> Any:
        self.seen.append(attempt)
        return self.answer(attempt)


class PolicyPlugin:
    def __init__(self, *policies: Recorder) -> None:
        self.policies = policies

    @hookimpl
    def koppel_register_login_policies(self, register: Callable[[Any], None]) -> None:
        for policy in self.policies:
            register(policy)


def judge(
    db: Session,
    school: Any,
    person: Pupil | Staff | None,
    peer: str,
    plugins: Plugins,
    at: datetime = NOON,
    **settings: Any,
) -> Decision:
    identity = LoginIdentity(
        "basispoort",
        school_ref=school.source_ref,
        user_id=person.source_id if person is not None else "0",
    )
    attempt = make_attempt(db, resolve_identity(db, identity), derive_client_address(peer), at)
    return evaluate_login(db, attempt, plugins, load_settings(**settings))


def test_policies_are_not_asked_when_core_already_denies(db: Session, seed: Seed):
    recorder = Recorder("recorder")
    plugins = login_plugins(PolicyPlugin(recorder))
    decision = judge(db, seed.closed_school, seed.closed_pupil, INSIDE, plugins)
    assert [d.policy for d in decision.denials] == ["core:school_no_consent"]
    assert recorder.seen == []


def test_every_policy_is_asked_and_every_deny_is_recorded(db: Session, seed: Seed):
    no = Recorder("no", lambda a: Denial("no", "Nee.", "No."))
    later = Recorder("later")
    plugins = login_plugins(PolicyPlugin(no, later))
    decision = judge(db, seed.school, seed.pupil, HOME, plugins)
    assert not decision.allowed
    assert {d.policy for d in decision.denials} == {"no", "ip_restriction"}
    assert len(later.seen) == 1  # asked even though others had already denied
    attempt = later.seen[0]
    assert attempt.person == seen(seed.pupil) and attempt.roles == ("pupil",)
    assert attempt.client_ip is not None and str(attempt.client_ip) == HOME
    rows = db.scalars(select(LoginDenial).where(LoginDenial.school_id == seed.school.id))
    assert sorted(r.policy for r in rows) == ["ip_restriction", "no"]


def test_a_staff_member_carries_their_roles(db: Session, seed: Seed):
    recorder = Recorder("recorder")
    judge(db, seed.school, seed.teacher, HOME, login_plugins(PolicyPlugin(recorder)))
    assert recorder.seen[0].roles == ("staff", "Leerkracht")


def test_a_policy_that_raises_denies_fail_closed(db: Session, seed: Seed):
    def boom(attempt: LoginAttempt) -> None:
        # A policy reads what it needs by id; its exception's message then holds a name.
        staff = attempt.session.get(Staff, attempt.person.id)  # type: ignore[union-attr]
        raise KeyError(staff.last_name)  # type: ignore[union-attr]

    plugins = login_plugins(PolicyPlugin(Recorder("broken", boom)))
    with capture_logs() as logs:
        decision = judge(db, seed.school, seed.teacher, HOME, plugins)
    assert not decision.allowed
    [denial] = decision.denials
    assert denial.policy == "broken" and "storing" in denial.reason_nl
    assert "Vries" not in denial.reason_nl + denial.reason_en
    # Logged with where it failed, but not the exception's message (it held a name).
    [failed] = [e for e in logs if e["event"] == "login_policy_failed"]
    assert failed["policy"] == "broken" and failed["error"] == "KeyError"
    assert "test_evaluate.py" in failed["at"]
    assert "Vries" not in repr(logs)


def test_a_broken_policy_in_shadow_mode_does_not_lock_anyone_out(db: Session, seed: Seed):
    def boom(attempt: LoginAttempt) -> None:
        raise RuntimeError("bug")

    plugins = login_plugins(PolicyPlugin(Recorder("broken", boom)))
    decision = judge(db, seed.school, seed.teacher, HOME, plugins, login_shadow_policies=["broken"])
    assert decision.allowed and [d.policy for d in decision.shadow_denials] == ["broken"]


def test_an_answer_that_is_not_a_denial_denies(db: Session, seed: Seed):
    plugins = login_plugins(PolicyPlugin(Recorder("sloppy", lambda a: False)))
    decision = judge(db, seed.school, seed.teacher, HOME, plugins)
    assert [d.policy for d in decision.denials] == ["sloppy"]


def test_the_audit_names_the_policy_as_registered(db: Session, seed: Seed):
    liar = Recorder("honest_name", lambda a: Denial("someone_else", "Nee.", "No."))
    decision = judge(db, seed.school, seed.teacher, HOME, login_plugins(PolicyPlugin(liar)))
    assert [d.policy for d in decision.denials] == ["honest_name"]


def test_a_school_that_is_inactive_or_merged_is_refused(db: Session):
    plugins = login_plugins()
    inactive = add_school(db, active=False)
    merged = add_school(db, merged_into_source_id="8001")
    for school, policy in ((inactive, "core:school_inactive"), (merged, "core:school_merged")):
        staff = add_staff(db, school)
        decision = judge(db, school, staff, INSIDE, plugins)
        assert [d.policy for d in decision.denials] == [policy]


def test_a_staff_member_past_their_end_date_has_left(db: Session):
    school = add_school(db)
    staff = add_staff(db, school, end_date=date(2026, 11, 30))
    plugins = login_plugins()
    # The end date is their last day, in Dutch time.
    assert judge(db, school, staff, HOME, plugins, at=NOON).allowed
    late = datetime(2026, 11, 30, 22, 59, tzinfo=UTC)  # 23:59 in Amsterdam
    assert judge(db, school, staff, HOME, plugins, at=late).allowed
    next_day = datetime(2026, 11, 30, 23, 1, tzinfo=UTC)  # 00:01 the next day
    decision = judge(db, school, staff, HOME, plugins, at=next_day)
    assert [d.policy for d in decision.denials] == ["core:person_left"]


def test_a_purged_person_has_left(db: Session, seed: Seed):
    seed.pupil.purged_at = NOON
    db.flush()
    decision = judge(db, seed.school, seed.pupil, INSIDE, login_plugins())
    assert [d.policy for d in decision.denials] == ["core:person_left"]


def test_an_attempt_needs_an_aware_time(db: Session):
    with pytest.raises(ValueError, match="timezone-aware"):
        LoginAttempt(None, None, None, (), derive_client_address(INSIDE), datetime(2026, 1, 1), db)


def test_a_misspelt_shadow_policy_is_enforced_and_warned_about_once(
    db: Session, seed: Seed, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(evaluate_module, "_warned", set())
    plugins = login_plugins()
    with capture_logs() as logs:
        for _ in range(2):
            decision = judge(
                db, seed.school, seed.pupil, HOME, plugins, login_shadow_policies=["ip_restrict"]
            )
            assert not decision.allowed and decision.shadow_denials == ()
    warnings = [e for e in logs if e["event"] == "shadow_policy_unknown"]
    assert [w["names"] for w in warnings] == [["ip_restrict"]]
