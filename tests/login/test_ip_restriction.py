"""The IP restriction plugin: whom it applies to, its settings, and its entry point."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import entry_points

import pytest
from sqlalchemy.orm import Session

import plugins.ip_restriction.hooks as hooks
from core.errors import ConfigError
from core.login.attempt import make_attempt
from core.login.client_address import derive_client_address
from core.login.identity import LoginIdentity, resolve_identity
from core.plugins import Plugins, make_plugin_manager
from plugins.ip_restriction.policy import IpRestriction
from plugins.ip_restriction.settings import load_ip_restriction_settings
from tests.login.conftest import HOME, INSIDE, Seed


def attempt_of(db: Session, school, person, peer: str):  # type: ignore[no-untyped-def]
    identity = LoginIdentity("basispoort", school_ref=school.source_ref, user_id=person.source_id)
    resolved = resolve_identity(db, identity)
    return make_attempt(db, resolved, derive_client_address(peer), datetime.now(UTC))


def test_pupils_only_by_default(db: Session, seed: Seed):
    policy = IpRestriction(load_ip_restriction_settings().roles)
    assert policy.judge(attempt_of(db, seed.school, seed.pupil, HOME)) is not None
    assert policy.judge(attempt_of(db, seed.school, seed.pupil, INSIDE)) is None
    assert policy.judge(attempt_of(db, seed.school, seed.teacher, HOME)) is None


@pytest.mark.parametrize("roles", [["pupil", "Leerkracht"], ["pupil", "leerkracht"], ["staff"]])
def test_staff_roles_can_be_restricted_too(db: Session, seed: Seed, roles: list[str]):
    policy = IpRestriction(roles)
    denial = policy.judge(attempt_of(db, seed.school, seed.teacher, HOME))
    assert denial is not None and denial.policy == "ip_restriction"
    assert policy.judge(attempt_of(db, seed.school, seed.teacher, INSIDE)) is None


def test_a_role_the_teacher_does_not_have_leaves_them_alone(db: Session, seed: Seed):
    policy = IpRestriction(["Stagiair"])
    assert policy.judge(attempt_of(db, seed.school, seed.teacher, HOME)) is None
    assert policy.judge(attempt_of(db, seed.school, seed.pupil, HOME)) is None


def test_roles_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KOPPEL_IP_RESTRICTION_ROLES", '["pupil", "Inval"]')
    assert load_ip_restriction_settings().roles == ["pupil", "Inval"]
    monkeypatch.setenv("KOPPEL_IP_RESTRICTION_ROLES", "pupil")  # not a JSON list
    with pytest.raises(ConfigError, match="KOPPEL_IP_RESTRICTION_ROLES"):
        load_ip_restriction_settings()


def test_registered_as_an_entry_point_like_any_third_party_plugin():
    [entry] = [e for e in entry_points(group="koppel") if e.name == "ip_restriction"]
    assert entry.value == "plugins.ip_restriction.hooks"
    assert entry.load() is hooks
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[entry.load()]))
    assert [p.name for p in plugins.login_policies] == ["ip_restriction"]


def test_disabling_the_plugin_removes_the_rule():
    pm = make_plugin_manager(disabled=["ip_restriction"])
    assert "ip_restriction" not in [p.name for p in Plugins(pm).login_policies]
