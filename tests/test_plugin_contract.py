"""The plugin contract stays honest: hooks documented and called through pluggy (wrappers and
ordering work, one observer's failure is isolated), misspellings loud, registration checked."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from structlog.testing import capture_logs

from core import hookspecs
from core.errors import ConfigError, UnknownSource
from core.hookspecs import hookimpl
from core.plugins import Plugins, make_plugin_manager
from tests.fakes import FakeSource, make_snapshot

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


def _Source(name):
    return FakeSource(make_snapshot(pupils=0, staff=0, groups=0), name=name)


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


def _notify(*observers):
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=observers))
    with capture_logs() as logs:
        plugins.after_school_sync(
            school_id=1, source="x", run_id=2, outcome="succeeded", counts={"pupils_created": 3}
        )
    return [e for e in logs if e["event"] == "plugin_hook_failed"]


class _Seen:
    def __init__(self, seen, label):
        self.seen, self.label = seen, label

    @hookimpl
    def koppel_after_school_sync(self, run_id):
        self.seen.append((self.label, run_id))


def test_an_observer_that_fails_first_is_logged_and_the_others_still_run():
    seen = []

    class Broken:
        @hookimpl
        def koppel_after_school_sync(self):
            seen.append("broken")
            raise RuntimeError("observer bug")

    # pluggy calls the last registered first: Broken runs before both others.
    broken = Broken()
    failures = _notify(_Seen(seen, "a"), _Seen(seen, "b"), broken)

    assert seen == ["broken", ("b", 2), ("a", 2)]
    assert [(f["hook"], f["plugin"], f["log_level"]) for f in failures] == [
        ("koppel_after_school_sync", str(id(broken)), "error")
    ]


def test_a_wrapper_around_an_observer_hook_is_called():
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def koppel_after_school_sync(self, outcome):
            seen.append(("wrapper before", outcome))
            result = yield
            seen.append(("wrapper after", outcome))
            return result

    assert _notify(_Seen(seen, "observer"), Wrapper()) == []
    assert seen == [
        ("wrapper before", "succeeded"),
        ("observer", 2),
        ("wrapper after", "succeeded"),
    ]


def test_a_wrapper_wraps_each_observer_and_sees_its_exception():
    seen = []

    class Broken:
        @hookimpl
        def koppel_consent_changed(self, granted):
            raise RuntimeError("observer bug")

    class Fine:
        @hookimpl
        def koppel_consent_changed(self, school_id, granted):
            seen.append(("fine", school_id, granted))

    class Wrapper:
        @hookimpl(wrapper=True)
        def koppel_consent_changed(self):
            try:
                return (yield)
            except RuntimeError as exc:
                seen.append(("wrapper saw", str(exc)))
                raise

    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[Fine(), Broken(), Wrapper()]))
    with capture_logs() as logs:
        plugins.consent_changed(school_id=7, source="x", granted=False)

    assert seen == [("wrapper saw", "observer bug"), ("fine", 7, False)]
    assert [e["event"] for e in logs] == ["plugin_hook_failed"]


def test_tryfirst_and_trylast_order_the_observers():
    seen = []

    class First(_Seen):
        @hookimpl(tryfirst=True)
        def koppel_after_school_sync(self, run_id):
            self.seen.append((self.label, run_id))

    class Last(_Seen):
        @hookimpl(trylast=True)
        def koppel_after_school_sync(self, run_id):
            self.seen.append((self.label, run_id))

    _notify(Last(seen, "last"), First(seen, "first"), _Seen(seen, "middle"))
    assert [label for label, _ in seen] == ["first", "middle", "last"]


class _NoFetch:
    name = "halfway"
    capabilities = None

    def check_connection(self, brin, location_code): ...
    def latest_change(self, source_school_id): ...
    def consent_changes(self, day): ...
    def give_up_consent(self, source_school_id): ...


def test_a_source_missing_a_method_is_refused_when_registered_naming_it():
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[_plugin(_NoFetch())]))
    with pytest.raises(ConfigError) as refused:
        _ = plugins.sources
    message = str(refused.value)
    assert "identity source 'halfway'" in message
    assert "has no fetch_snapshot;" in message
    assert "koppel.plugin.IdentitySource" in message
    assert "KOPPEL_DISABLED_PLUGINS" in message


def test_a_method_that_is_not_callable_is_named():
    source = _Source("x")
    source.give_up_consent = "later"
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[_plugin(source)]))
    with pytest.raises(ConfigError, match=r"has no give_up_consent \(not callable\);"):
        _ = plugins.sources


def test_a_login_policy_without_judge_is_refused_naming_it():
    class Judgeless:
        name = "judgeless"

    class P:
        @hookimpl
        def koppel_register_login_policies(self, register):
            register(Judgeless())

    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[P()]))
    with pytest.raises(ConfigError, match=r"login policy 'judgeless' \(.*\) has no judge;"):
        _ = plugins.login_policies


def test_an_observer_registered_later_is_called_too():
    seen = []
    plugins = Plugins(
        make_plugin_manager(entry_points=False, extra=[_Seen(seen, "a"), _Seen(seen, "b")])
    )
    plugins.consent_changed(school_id=1, source="x", granted=True)  # no observer of this hook
    plugins.after_school_sync(school_id=1, source="x", run_id=1, outcome="held", counts={})
    plugins.pm.register(_Seen(seen, "c"))
    plugins.after_school_sync(school_id=1, source="x", run_id=2, outcome="held", counts={})
    assert seen == [("b", 1), ("a", 1), ("c", 2), ("b", 2), ("a", 2)]


class _PluginSettings(BaseSettings):
    """A plugin's own settings."""

    model_config = SettingsConfigDict(env_prefix="KOPPEL_EXAMPLE_")
    colour: str = Field("blue", description="The example's colour.")


def _settings_plugin(*classes):
    class P:
        @hookimpl
        def koppel_register_settings(self, register):
            for cls in classes:
                register(cls)

    return P()


def test_a_plugin_settings_class_is_listed_once():
    plugin = _settings_plugin(_PluginSettings, _PluginSettings)
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[plugin]))
    assert plugins.settings_classes == [_PluginSettings]


@pytest.mark.parametrize(
    ("registered", "said"),
    [
        (dict, "not a pydantic-settings BaseSettings class"),
        (type("Stray", (BaseSettings,), {"model_config": {"env_prefix": "APP_"}}), "'APP_'"),
    ],
)
def test_settings_that_are_not_koppel_settings_are_refused(registered, said):
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[_settings_plugin(registered)]))
    with pytest.raises(ConfigError, match=said):
        _ = plugins.settings_classes
