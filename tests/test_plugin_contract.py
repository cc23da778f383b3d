"""The plugin contract stays honest: hooks documented, misspellings loud, registration checked."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from core import hookspecs
from core.errors import ConfigError, UnknownSource
from core.hookspecs import hookimpl
from core.plugins import Plugins, make_plugin_manager

HOOKS = [
    name
    for name, fn in vars(hookspecs).items()
    if name.startswith("koppel_") and inspect.isfunction(fn)
]
TESTS = Path(__file__).parent


def test_there_are_hooks():
    assert len(HOOKS) >= 5


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert "Called" in doc, f"{name}: say when it is called"
    assert re.search(r"[Rr]eturn", doc), f"{name}: say what it returns and how answers combine"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_exercised_by_a_test(name):
    implementers = [
        p for p in TESTS.rglob("test_*.py") if re.search(rf"def {name}\(", p.read_text())
    ]
    assert implementers, f"no test implements {name}"


def test_built_in_plugins_come_through_entry_points():
    pm = make_plugin_manager()
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert "basispoort" in names


def test_a_misspelt_hook_fails_loudly():
    class Misspelt:
        @hookimpl
        def koppel_register_identity_source(self, register):  # missing "s"
            pass

    with pytest.raises(pluggy.PluginValidationError):
        make_plugin_manager(entry_points=False, extra=[Misspelt()])


def test_a_disabled_plugin_is_not_loaded():
    pm = make_plugin_manager(disabled=["basispoort"])
    assert "basispoort" not in Plugins(pm).sources


class _Source:
    def __init__(self, name):
        self.name = name


def _plugin(*sources):
    class P:
        @hookimpl
        def koppel_register_identity_sources(self, register):
            for s in sources:
                register(s)

    return P()


def test_sources_are_registered_by_name():
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[_plugin(_Source("x"))]))
    assert plugins.source("x").name == "x"


def test_unknown_source_says_what_is_installed():
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[_plugin(_Source("x"))]))
    with pytest.raises(UnknownSource, match="installed: x"):
        plugins.source("entree")


def test_two_sources_with_one_name_are_refused():
    pm = make_plugin_manager(
        entry_points=False, extra=[_plugin(_Source("x")), _plugin(_Source("x"))]
    )
    with pytest.raises(ConfigError, match="two plugins"):
        _ = Plugins(pm).sources


def test_an_observer_that_fails_does_not_break_the_work():
    seen = []

    class Broken:
        @hookimpl
        def koppel_after_school_sync(self, school_id, outcome):
            raise RuntimeError("observer bug")

    class Fine:
        @hookimpl
        def koppel_after_school_sync(self, school_id, run_id, outcome, counts):
            seen.append((school_id, run_id, outcome, dict(counts)))

    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[Broken(), Fine()]))
    plugins.after_school_sync(
        school_id=1, source="x", run_id=2, outcome="succeeded", counts={"pupils_created": 3}
    )
    assert seen == [(1, 2, "succeeded", {"pupils_created": 3})]
