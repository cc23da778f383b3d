"""A plugin's own test suite uses the kit through the pytest plugin koppel registers (pytest11)."""

from __future__ import annotations

from importlib.metadata import entry_points

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest
from tests.kit.memory_source import MemoryUpstream
from tests.kit import broken_sources, memory_source

@pytest.fixture
def koppel_upstream():
    return MemoryUpstream()

@pytest.fixture
def koppel_source(koppel_upstream):
    source_class = getattr(broken_sources, "{name}", None) or memory_source.MemorySource
    return source_class(koppel_upstream)
"""

TESTS = """
import pytest
from koppel.testing import RULES

@pytest.mark.parametrize("rule", RULES)
def test_contract(koppel_contract, rule):
    koppel_contract.check(rule)
"""


def _suite(pytester, source_class: str):  # type: ignore[no-untyped-def]
    pytester.makeconftest(CONFTEST.format(name=source_class))
    pytester.makepyfile(test_my_source=TESTS)
    return pytester.runpytest("-p", "no:cacheprovider")


def test_the_kit_is_a_registered_pytest_plugin():
    found = [e.value for e in entry_points(group="pytest11") if e.name == "koppel"]
    assert found == ["koppel.testing.pytest_plugin"]


def test_a_plugin_suite_passes_for_a_source_that_keeps_its_promises(pytester):
    result = _suite(pytester, "MemorySource")
    result.assert_outcomes(passed=8)


def test_a_plugin_suite_fails_on_the_rule_its_source_breaks(pytester):
    result = _suite(pytester, "ListsBothWays")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        ["*[[]consent_changes_well_formed[]] 1 schools are listed as both*"]
    )


def test_a_suite_without_the_fixtures_is_told_what_to_define(pytester):
    pytester.makepyfile(test_my_source=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*define a 'koppel_source' fixture*"])


METHOD_SUITE = """
import pytest
from koppel.testing import LOGIN_METHOD_RULES
from tests.kit import broken_methods

@pytest.fixture
def koppel_login_method():
    return getattr(broken_methods, "{name}")()

@pytest.mark.parametrize("rule", LOGIN_METHOD_RULES)
def test_login_method(koppel_login_method_contract, rule):
    koppel_login_method_contract.check(rule)
"""


def test_a_plugin_suite_checks_its_login_method(pytester):
    pytester.makepyfile(test_my_method=METHOD_SUITE.format(name="BoardLogin"))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=6)


def test_a_plugin_suite_fails_on_the_rule_its_login_method_breaks(pytester):
    pytester.makepyfile(test_my_method=METHOD_SUITE.format(name="TakesAnyBrin"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*[[]identity_brin_4_or_6[]] identity's brin for *"])


def test_a_suite_without_the_method_fixture_is_told_what_to_define(pytester):
    without = METHOD_SUITE.format(name="BoardLogin").replace("def koppel_login_method(", "def x(")
    pytester.makepyfile(test_my_method=without)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*define a 'koppel_login_method' fixture*"])
