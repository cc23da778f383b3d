"""The kit as a pytest plugin (entry point ``pytest11``): fixtures for a plugin's test suite.

The suite defines ``koppel_source`` and ``koppel_upstream``; ``koppel_contract`` checks them.
A login method's suite defines ``koppel_login_method``; ``koppel_login_method_contract`` checks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from koppel.testing.contract import SourceContract
from koppel.testing.method_contract import LoginMethodContract


@pytest.fixture
def koppel_source() -> Any:
    """The identity source under test: override this fixture in your conftest.py."""
    pytest.fail("define a 'koppel_source' fixture returning your IdentitySource", pytrace=False)


@pytest.fixture
def koppel_upstream() -> Any:
    """The Upstream driving your source's upstream: override this fixture in your conftest.py."""
    pytest.fail("define a 'koppel_upstream' fixture (see koppel.testing.Upstream)", pytrace=False)


@pytest.fixture
def koppel_contract(koppel_source: Any, koppel_upstream: Any, tmp_path: Path) -> SourceContract:
    """The kit bound to your source: ``koppel_contract.check(rule)`` or ``.check_all()``."""
    return SourceContract(koppel_source, koppel_upstream, tmp_path)


@pytest.fixture
def koppel_login_method() -> Any:
    """The login method under test: override this fixture in your conftest.py."""
    pytest.fail("define a 'koppel_login_method' fixture returning your login method", pytrace=False)


@pytest.fixture
def koppel_login_method_contract(koppel_login_method: Any, tmp_path: Path) -> LoginMethodContract:
    """The kit bound to your login method: ``.check(rule)`` or ``.check_all()``."""
    return LoginMethodContract(koppel_login_method, tmp_path)
