"""The kit's login-method rules: the built-in methods pass, broken methods are caught by rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.plugins import Plugins, make_plugin_manager
from koppel.testing import (
    ContractFailure,
    KitWarning,
    LoginMethodContract,
    LoginMethodRule,
    check_login_method,
)
from plugins.basispoort.sso import BasispoortLogin, EntreeLogin
from tests.kit.broken_methods import ALSO_BROKEN, BROKEN, BoardLogin, WithoutExample


@pytest.mark.parametrize("method", [BasispoortLogin, EntreeLogin], ids=["basispoort", "entree"])
@pytest.mark.parametrize("rule", list(LoginMethodRule))
def test_the_built_in_methods_keep_the_rule(method, rule, tmp_path, recwarn):
    LoginMethodContract(method(), tmp_path).check(rule)
    assert not [w for w in recwarn if issubclass(w.category, KitWarning)]  # checked, not skipped


def test_the_registered_built_in_methods_keep_every_rule(tmp_path):
    methods = Plugins(make_plugin_manager()).login_methods
    assert sorted(methods) == ["basispoort", "entree"]
    for method in methods.values():
        check_login_method(method, tmp_path)


def test_a_method_that_keeps_its_promises_passes(tmp_path):
    check_login_method(BoardLogin(), tmp_path)


@pytest.mark.parametrize("rule", list(LoginMethodRule))
def test_the_kit_catches_a_method_broken_for_the_rule(rule, tmp_path):
    with pytest.raises(ContractFailure) as caught:
        LoginMethodContract(BROKEN[rule](), tmp_path).check(rule)
    assert caught.value.rule == rule, str(caught.value)
    assert str(caught.value).startswith(f"[{rule}] ")
    assert str(caught.value).endswith(f"To fix: {rule.fix}")


@pytest.mark.parametrize("case", list(ALSO_BROKEN))
def test_the_kit_catches_each_way_a_member_or_answer_goes_wrong(case, tmp_path):
    rule, method = ALSO_BROKEN[case]
    with pytest.raises(ContractFailure) as caught:
        LoginMethodContract(method(), tmp_path).check(rule)
    assert caught.value.rule == rule, str(caught.value)


def test_a_sign_in_koppel_refuses_says_why(tmp_path):
    with pytest.raises(ContractFailure, match=r"refused: core:person_unknown"):
        LoginMethodContract(BROKEN[LoginMethodRule.SIGNS_IN](), tmp_path).check(
            LoginMethodRule.SIGNS_IN
        )


def test_without_an_example_the_end_to_end_rule_warns_instead(tmp_path):
    contract = LoginMethodContract(WithoutExample(), tmp_path)
    with pytest.warns(KitWarning, match=r"\[signs_in_through_the_acs\] not checked"):
        contract.check_all()


def test_check_all_names_every_rule_broken(tmp_path):
    with pytest.raises(ContractFailure) as caught:
        check_login_method(BROKEN[LoginMethodRule.BRIN](), tmp_path)
    assert f"[{LoginMethodRule.BRIN}]" in str(caught.value)
    assert f"[{LoginMethodRule.ANSWERS}]" not in str(caught.value)


def test_every_rule_is_documented():
    doc = (Path(__file__).parents[2] / "docs" / "plugin-kit.md").read_text()
    assert [rule for rule in LoginMethodRule if f"| `{rule}` |" not in doc] == []
