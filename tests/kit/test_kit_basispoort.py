"""The built-in Basispoort source keeps every promise of the kit, against the simulator."""

from __future__ import annotations

import pytest

from koppel.testing import Rule, SourceContract
from plugins.basispoort.settings import load_basispoort_settings
from plugins.basispoort.source import BasispoortSource
from tests.kit.basispoort_upstream import SimulatorUpstream


@pytest.fixture
def basispoort(sim_server, sim_pki):  # type: ignore[no-untyped-def]
    settings = load_basispoort_settings(
        url=sim_server.url,
        cert=sim_pki.client,
        ca=sim_pki.ca,
        ipadressen=True,
        retries=1,
        backoff=0.01,
    )
    source = BasispoortSource(settings)
    try:
        yield source
    finally:
        source.close()


@pytest.mark.parametrize("rule", list(Rule))
def test_basispoort_keeps_the_rule(rule, basispoort, sim_world, sim_server, tmp_path):
    upstream = SimulatorUpstream(sim_world, sim_server)
    SourceContract(basispoort, upstream, tmp_path).check(rule)


def test_basispoort_keeps_every_rule_at_once(basispoort, sim_world, sim_server, tmp_path):
    """The whole kit in one go, as a plugin's CI would run it."""
    SourceContract(basispoort, SimulatorUpstream(sim_world, sim_server), tmp_path).check_all()
