"""The kit passes a source that keeps every promise and catches one broken for each rule."""

from __future__ import annotations

import io

import pytest
import structlog

from koppel.testing import ContractFailure, Rule, SourceContract
from tests.kit import broken_sources
from tests.kit.broken_sources import BROKEN
from tests.kit.memory_source import MemorySource, MemoryUpstream


def _contract(source_class, tmp_path):  # type: ignore[no-untyped-def]
    upstream = MemoryUpstream()
    return SourceContract(source_class(upstream), upstream, tmp_path)


@pytest.mark.parametrize("rule", list(Rule))
def test_a_source_that_keeps_its_promises_passes(rule, tmp_path):
    _contract(MemorySource, tmp_path).check(rule)


@pytest.mark.parametrize("rule", list(Rule))
def test_the_kit_catches_a_source_broken_for_the_rule(rule, tmp_path):
    contract = _contract(BROKEN[rule], tmp_path)
    with pytest.raises(ContractFailure) as caught:
        contract.check(rule)
    assert caught.value.rule == rule
    assert str(caught.value).startswith(f"[{rule}] ")


def test_check_all_names_every_rule_broken(tmp_path):
    with pytest.raises(ContractFailure) as caught:
        _contract(BROKEN[Rule.STABLE_IDS], tmp_path).check_all()
    assert f"[{Rule.STABLE_IDS}]" in str(caught.value)


def test_the_privacy_rule_hears_loggers_cached_on_first_use(tmp_path):
    structlog.configure(  # a plugin's own test setup: straight to a stream, loggers cached
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(io.StringIO()),
        cache_logger_on_first_use=True,
    )
    try:
        broken_sources.log.info("warm_up")  # the leaking module's logger is cached now
        with pytest.raises(ContractFailure, match=r"\[no_personal_data_in_logs\]"):
            _contract(BROKEN[Rule.PRIVACY], tmp_path).check(Rule.PRIVACY)
    finally:
        structlog.reset_defaults()
