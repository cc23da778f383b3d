"""A second login policy, written as a test plugin, is picked up without any change to core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.hookspecs import hookimpl
from core.login import Denial, LoginAttempt
from core.models import LoginDenial
from core.plugins import Plugins
from tests.login.conftest import HOME, INSIDE, MakeApi, Seed, login_body, login_plugins

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class NoLoginsAtNight:
    """Nobody logs in at night, Dutch time (``night``: the hours of it; a test sets them, as
    the API takes the time of a login from the server's clock, give or take five minutes)."""

    name = "no_logins_at_night"
    night: frozenset[int] = frozenset(range(6))

    def judge(self, attempt: LoginAttempt) -> Denial | None:
        if attempt.at.astimezone(AMSTERDAM).hour in self.night:
            return Denial(self.name, "Inloggen kan niet 's nachts.", "No logins at night.")
        return None


ALWAYS_NIGHT = frozenset(range(24))
NEVER_NIGHT: frozenset[int] = frozenset()


class NightPlugin:
    def __init__(self, policy: NoLoginsAtNight) -> None:
        self.policy = policy

    @hookimpl
    def koppel_register_login_policies(self, register: Callable[[Any], None]) -> None:
        register(self.policy)


@pytest.fixture
def night_policy() -> NoLoginsAtNight:
    return NoLoginsAtNight()


@pytest.fixture
def night_plugins(night_policy: NoLoginsAtNight) -> Iterator[Plugins]:
    plugin = NightPlugin(night_policy)
    plugins = login_plugins()
    plugins.pm.register(plugin, name="test-night")
    try:
        yield plugins
    finally:
        plugins.pm.unregister(plugin)


def test_the_test_policy_is_registered_beside_the_built_in_one(night_plugins: Plugins):
    assert {p.name for p in night_plugins.login_policies} == {
        "ip_restriction",
        "no_logins_at_night",
    }


def test_a_second_policy_denies_through_the_api(
    make_api: MakeApi,
    night_plugins: Plugins,
    night_policy: NoLoginsAtNight,
    seed: Seed,
    db: Session,
):
    api = make_api(plugins=night_plugins)
    night_policy.night = ALWAYS_NIGHT
    teacher_at_night = api.post(
        "/v1/logins/evaluate", json=login_body(seed.school, seed.teacher, HOME)
    ).json()
    assert teacher_at_night["allowed"] is False
    assert teacher_at_night["denials"] == [
        {
            "policy": "no_logins_at_night",
            "reason_nl": "Inloggen kan niet 's nachts.",
            "reason_en": "No logins at night.",
        }
    ]
    night_policy.night = NEVER_NIGHT
    teacher_by_day = api.post(
        "/v1/logins/evaluate", json=login_body(seed.school, seed.teacher, HOME)
    ).json()
    assert teacher_by_day["allowed"] is True

    # Both policies object to a pupil at home at night; both are in the answer and the audit.
    night_policy.night = ALWAYS_NIGHT
    pupil_at_night = api.post(
        "/v1/logins/evaluate", json=login_body(seed.school, seed.pupil, HOME)
    ).json()
    assert {d["policy"] for d in pupil_at_night["denials"]} == {
        "ip_restriction",
        "no_logins_at_night",
    }
    rows = db.scalars(
        select(LoginDenial).where(
            LoginDenial.school_id == seed.school.id,
            LoginDenial.person_kind == "pupil",
            LoginDenial.person_id == seed.pupil.id,
        )
    )
    assert sorted(r.policy for r in rows) == ["ip_restriction", "no_logins_at_night"]


def test_the_second_policy_in_shadow_mode(
    make_api: MakeApi, night_plugins: Plugins, night_policy: NoLoginsAtNight, seed: Seed
):
    api = make_api(plugins=night_plugins, login_shadow_policies=["no_logins_at_night"])
    night_policy.night = ALWAYS_NIGHT
    result = api.post(
        "/v1/logins/evaluate", json=login_body(seed.school, seed.pupil, INSIDE)
    ).json()
    assert result["allowed"] is True
    assert [d["policy"] for d in result["shadow_denials"]] == ["no_logins_at_night"]


def test_without_the_plugin_nothing_is_left_behind(night_plugins: Plugins):
    # The fixture unregisters in finally; a fresh set of plugins knows only the built-in one.
    assert [p.name for p in login_plugins().login_policies] == ["ip_restriction"]
