"""docs/plugins.md's examples work: a source syncs, a policy judges, a login method signs in."""

from __future__ import annotations

import importlib
import json
import re
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from core.connection import ConnectionStatus
from core.linking import link_school
from core.login import ClientAddress, LoginAttempt
from core.models import School
from core.plugins import Plugins, make_plugin_manager
from core.saml.method import Asserted, AssertedIdentity
from core.sync.engine import sync_school
from koppel.testing import KitWarning, check_login_method
from tests.layers import imported_modules, outside_the_api

DOC = Path(__file__).parents[1] / "docs" / "plugins.md"
# A Python block whose first line is "# package/module.py" is a file of an example plugin.
EXAMPLE = re.compile(r"```python\n# (\w+)/(\w+)\.py\n(.*?)```", re.S)


@pytest.fixture
def examples(tmp_path, monkeypatch):
    """The documented plugins, written out as packages and imported: {package: hooks module}."""
    blocks = EXAMPLE.findall(DOC.read_text())
    assert {package for package, _, _ in blocks} == {"las_export", "quiet_nights", "school_idp"}
    for package, module, code in blocks:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
        (tmp_path / package / f"{module}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield {package: importlib.import_module(f"{package}.hooks") for package, _, _ in blocks}
    for package, _, _ in blocks:
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            del sys.modules[name]


def test_the_documented_source_links_and_syncs_a_school(db, examples, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "school-7.json").write_text(
        json.dumps(
            {
                "name": "De Voorbeeldschool",
                "brin": "99ZZ",
                "location": "00",
                "pupils": [{"id": "p1", "first_name": "Anna", "last_name": "Jansen"}],
                "staff": [{"id": "s1", "last_name": "de Vries", "roles": ["Leerkracht"]}],
            }
        )
    )
    monkeypatch.setenv("KOPPEL_LAS_EXPORT_DIRECTORY", str(exports))
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[examples["las_export"]]))

    check = link_school(db, plugins, "99ZZ00", "las_export")
    assert check.status is ConnectionStatus.CONNECTED
    school_id = db.scalar(select(School.id).where(School.source == "las_export"))
    run = sync_school(db, school_id, plugins=plugins)

    assert run.outcome == "succeeded"
    assert (run.counts["pupils_created"], run.counts["staff_created"]) == (1, 1)


def test_the_documented_policy_judges_by_school_time(db, examples):
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[examples["quiet_nights"]]))
    (policy,) = plugins.login_policies

    def at(hour: int) -> LoginAttempt:
        when = datetime(2026, 12, 7, hour, 30, tzinfo=UTC)  # winter: school time is UTC+1
        return LoginAttempt(None, None, None, (), ClientAddress(None, "", "peer"), when, db)

    assert policy.judge(at(4)).policy == "quiet_nights"  # 05:30 school time
    assert policy.judge(at(5)) is None  # 06:30


def test_the_documented_login_method_names_the_school_and_person(examples, monkeypatch):
    monkeypatch.setenv("BOARD_IDP_METADATA", "/etc/koppel/board-idp.xml")
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[examples["school_idp"]]))
    method = plugins.login_methods["board"]
    assert (method.source, method.unsolicited) == ("las_export", False)
    assert method.metadata() == "/etc/koppel/board-idp.xml"
    asserted = Asserted("board", "e-17", {"brin": ("99ZZ",)})
    assert method.identity(asserted) == AssertedIdentity(brin="99ZZ", user_id="e-17")
    assert method.identity(Asserted("board", "e-17")) is None
    assert method.identity(Asserted("board", "e-17", {"brin": ("99ZZ0",)})) is None


def test_the_documented_login_method_passes_the_kit(examples, tmp_path):
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[examples["school_idp"]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", KitWarning)  # every rule checked, end to end included
        check_login_method(plugins.login_methods["board"], tmp_path)


def test_the_documented_plugins_import_only_the_public_api(examples):
    for package, hooks in examples.items():
        path = Path(hooks.__file__)
        assert [m for m in imported_modules(path) if outside_the_api(m, package)] == []
        assert "koppel.plugin" in imported_modules(path)
