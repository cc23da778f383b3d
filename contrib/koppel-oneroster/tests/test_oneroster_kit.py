"""koppel-oneroster keeps every promise of koppel's contract-test kit (koppel.testing)."""

from __future__ import annotations

import pytest
from oneroster_upstream import DirectoryUpstream

from koppel.testing import RULES, SourceContract
from koppel_oneroster.source import OneRosterSource


@pytest.fixture
def koppel_upstream(tmp_path):
    return DirectoryUpstream(tmp_path / "drops")


@pytest.fixture
def koppel_source(koppel_upstream):
    return OneRosterSource(koppel_upstream.directory)


@pytest.mark.parametrize("rule", RULES)
def test_oneroster_keeps_the_rule(koppel_contract, rule):
    koppel_contract.check(rule)


def test_oneroster_keeps_every_rule_at_once(koppel_source, koppel_upstream, tmp_path):
    SourceContract(koppel_source, koppel_upstream, tmp_path).check_all()
