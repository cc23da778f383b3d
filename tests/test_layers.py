"""Imports point one way: core ← koppel.plugin ← plugins ← workers ← scheduler (cli, api on top).

A plugin, built in or not, imports from koppel only through the public API, koppel.plugin;
besides that only its own package, the standard library and third-party packages. The Basispoort
simulator (plugins/basispoort/simulator) ships inside its plugin and is held to the same rule.
The outside packages in contrib/ (each its own distribution) are held to it too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers import imported_modules, imported_tops, outside_the_api

ROOT = Path(__file__).parents[1]
# What each layer must not import.
FORBIDDEN = {
    "core": {"koppel", "plugins", "workers", "scheduler", "cli", "api"},
    "koppel": {"plugins", "workers", "scheduler", "cli", "api"},
    "plugins": {"core", "workers", "scheduler", "cli", "api"},
    "workers": {"scheduler", "cli", "api"},
    "scheduler": {"cli", "api"},
    # The console queues 'sync now' and requeues dead letters as the CLI does (api/console).
    "api": {"cli", "scheduler"},
}
# The contract-test kit's end-to-end rule signs a person in through koppel's real assertion
# consumer (create_app): the one module of koppel/ that reaches the front end.
ALLOWED = {"koppel/testing/signin_rule.py": {"api"}}


def layer_files(layer: str) -> list[Path]:
    if layer == "scheduler":
        return [ROOT / "scheduler.py"]
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_one_way(layer):
    wrong = {
        where: sorted(found)
        for path in layer_files(layer)
        if (where := str(path.relative_to(ROOT)))
        and (found := imported_tops(path) & FORBIDDEN[layer] - ALLOWED.get(where, set()))
    }
    assert wrong == {}


def test_plugins_do_not_import_each_other():
    for plugin in (ROOT / "plugins").iterdir():
        if not plugin.is_dir() or plugin.name.startswith("__"):
            continue
        for path in plugin.rglob("*.py"):
            text = path.read_text()
            others = [
                p.name
                for p in (ROOT / "plugins").iterdir()
                if p.is_dir() and p.name not in (plugin.name, "__pycache__")
            ]
            for other in others:
                assert f"plugins.{other}" not in text, f"{path} imports plugins.{other}"


def plugin_packages() -> list[Path]:
    return sorted(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


@pytest.mark.parametrize("plugin", plugin_packages(), ids=lambda p: p.name)
def test_plugins_import_only_the_public_api(plugin):
    own = f"plugins.{plugin.name}"
    wrong = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if outside_the_api(name, own)
        )
        for path in sorted(plugin.rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def contrib_packages() -> list[Path]:
    """Each import package of each distribution in contrib/ (contrib/<dist>/<package>/)."""
    return sorted(p.parent for p in (ROOT / "contrib").glob("*/*/__init__.py"))


def test_contrib_holds_packages_to_check():
    assert [p.name for p in contrib_packages()] == ["koppel_oneroster"]


@pytest.mark.parametrize("package", contrib_packages(), ids=lambda p: p.name)
def test_contrib_imports_only_the_public_api(package):
    """The package and its tests: koppel.plugin (and koppel.testing in tests), nothing else."""
    own = package.name
    wrong = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in imported_modules(path)
            if outside_the_api(name, own) and not (path.parent.name == "tests" and _the_kit(name))
        )
        for path in sorted(package.parent.rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def _the_kit(name: str) -> bool:
    return name == "koppel.testing" or name.startswith("koppel.testing.")


def test_the_rule_catches_an_internal_import():
    own = "plugins.basispoort"
    assert outside_the_api("core.snapshot", own)
    assert outside_the_api("koppel.internal", own)
    assert outside_the_api("plugins.ip_restriction.policy", own)
    assert outside_the_api("workers.sync", own)
    assert not outside_the_api("koppel.plugin.hookimpl", own)
    assert not outside_the_api("plugins.basispoort.parse", own)
    assert not outside_the_api("httpx", own)
    assert not outside_the_api("datetime.date", own)
