"""The kit passes a source that keeps every promise and catches one broken for each rule."""

from __future__ import annotations

import io

import pytest
import structlog

from core.snapshot import SourceCapabilities
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


class ModestSource(MemorySource):
    """Promises little: snapshots that may miss people, no change stamps, no consent feed."""

    capabilities = SourceCapabilities(
        complete_snapshots=False, change_stamps=False, consent_feed=False
    )

    def latest_change(self, source_school_id):  # type: ignore[no-untyped-def]
        return None


@pytest.mark.parametrize("rule", list(Rule))
def test_a_source_that_promises_little_is_held_only_to_what_it_promises(rule, tmp_path):
    # Nobody leaves from its snapshots (the engine sees to it), and the kit expects just that.
    _contract(ModestSource, tmp_path).check(rule)
