"""What a module imports, and which imports reach past koppel's layers and plugin API."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

TOP = {"core", "koppel", "plugins", "workers", "scheduler", "cli", "api"}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports by absolute name (``from a.b import c`` also names a.b.c)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imported_tops(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)} & TOP


def outside_the_api(name: str, own: str) -> bool:
    """Whether a plugin importing module ``name`` reaches past koppel's public plugin API."""
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top not in TOP | {"tests", "bench"}:
        return False  # the standard library or a third-party package
    public = name in ("koppel", "koppel.plugin") or name.startswith("koppel.plugin.")
    return not (public or name == own or name.startswith(f"{own}."))
