"""Imports point one way: core ← plugins ← workers ← scheduler (cli and api on top)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
TOP = {"core", "plugins", "workers", "scheduler", "cli", "api"}
# What each layer must not import.
FORBIDDEN = {
    "core": {"plugins", "workers", "scheduler", "cli", "api"},
    "plugins": {"workers", "scheduler", "cli", "api"},
    "workers": {"scheduler", "cli", "api"},
    "scheduler": {"cli", "api"},
    "api": {"cli", "workers", "scheduler"},
}


def imported_tops(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & TOP


def layer_files(layer: str) -> list[Path]:
    if layer == "scheduler":
        return [ROOT / "scheduler.py"]
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_one_way(layer):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_tops(path) & FORBIDDEN[layer])
        for path in layer_files(layer)
        if imported_tops(path) & FORBIDDEN[layer]
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
