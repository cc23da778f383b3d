"""The kit's login-policy rules: the built-in IP restriction passes, broken policies are caught."""

from __future__ import annotations

import pytest

from core.login import Denial
from core.models import Pupil, School, Staff
from koppel.testing import ContractFailure, PolicyRule, check_login_policy
from koppel.testing.roster import KNOWN_ROLE
from plugins.ip_restriction.hooks import koppel_register_login_policies
from plugins.ip_restriction.policy import IpRestriction


def test_the_ip_restriction_policy_keeps_every_rule(tmp_path):
    check_login_policy(IpRestriction(["pupil", KNOWN_ROLE]), tmp_path)


def test_the_registered_ip_restriction_policy_keeps_every_rule(tmp_path):
    registered = []
    koppel_register_login_policies(register=registered.append)
    check_login_policy(registered[0], tmp_path)


class Nameless:
    def judge(self, attempt):  # type: ignore[no-untyped-def]
        return None


class SaysNo:
    name = "says_no"

    def judge(self, attempt):  # type: ignore[no-untyped-def]
        return "deny"  # not a Denial


class RoleTable:
    name = "role_table"
    LIMITS = {"pupil": True, "staff": False, KNOWN_ROLE: False}

    def judge(self, attempt):  # type: ignore[no-untyped-def]
        limited = any(self.LIMITS[role] for role in attempt.roles)
        return Denial(self.name, "Niet toegestaan.", "Not allowed.") if limited else None


class NamesThePerson:
    name = "names_the_person"

    def judge(self, attempt):  # type: ignore[no-untyped-def]
        who = attempt.session.get(
            Staff if attempt.person_kind == "staff" else Pupil, attempt.person.id
        ).last_name
        return Denial(self.name, f"{who} mag hier niet inloggen.", f"{who} may not log in here.")


class StampsTheSchool:
    name = "stamps_the_school"

    def judge(self, attempt):  # type: ignore[no-untyped-def]
        # A write through the read-only session.
        attempt.session.get(School, attempt.school.id).name = "seen by a policy"
        return None


BROKEN = {
    PolicyRule.NAMED: Nameless,
    PolicyRule.ANSWERS: SaysNo,
    PolicyRule.UNKNOWN_ROLES: RoleTable,
    PolicyRule.DENIAL_REASONS: NamesThePerson,
    PolicyRule.READ_ONLY: StampsTheSchool,
}


@pytest.mark.parametrize("rule", list(PolicyRule))
def test_the_kit_catches_a_policy_broken_for_the_rule(rule, tmp_path):
    with pytest.raises(ContractFailure) as caught:
        check_login_policy(BROKEN[rule](), tmp_path)
    assert caught.value.rule == rule, str(caught.value)
