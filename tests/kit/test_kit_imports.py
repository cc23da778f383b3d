"""The kit knows core and its own package, nothing of any plugin or worker.

Only its end-to-end login-method rule reaches the front end: it signs in through koppel's ACS.
"""

from __future__ import annotations

from pathlib import Path

from tests.layers import imported_tops

KIT = Path(__file__).parents[2] / "koppel" / "testing"


ALLOWED = {"core", "koppel"}
FRONT_END = {"signin_rule.py": {"api"}}


def test_the_kit_imports_only_core():
    wrong = {
        path.name: sorted(found)
        for path in KIT.glob("*.py")
        if (found := imported_tops(path) - ALLOWED - FRONT_END.get(path.name, set()))
    }
    assert wrong == {}
    assert len(list(KIT.glob("*.py"))) > 5
