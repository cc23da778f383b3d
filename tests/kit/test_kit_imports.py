"""The kit knows core and its own package, nothing of any plugin, worker or front end."""

from __future__ import annotations

from pathlib import Path

from tests.layers import imported_tops

KIT = Path(__file__).parents[2] / "koppel" / "testing"


ALLOWED = {"core", "koppel"}


def test_the_kit_imports_only_core():
    wrong = {
        path.name: sorted(imported_tops(path) - ALLOWED)
        for path in KIT.glob("*.py")
        if imported_tops(path) - ALLOWED
    }
    assert wrong == {}
    assert len(list(KIT.glob("*.py"))) > 5
