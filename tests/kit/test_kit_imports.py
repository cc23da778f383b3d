"""The kit knows koppel's core and nothing of any plugin, worker or front end."""

from __future__ import annotations

from pathlib import Path

from tests.test_layers import imported_tops

KIT = Path(__file__).parents[2] / "koppel" / "testing"


def test_the_kit_imports_only_core():
    wrong = {
        path.name: sorted(imported_tops(path) - {"core"})
        for path in KIT.glob("*.py")
        if imported_tops(path) - {"core"}
    }
    assert wrong == {}
    assert len(list(KIT.glob("*.py"))) > 5
