"""Basispoort fixtures shared by the simulator's, the client's and the plugin's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plugins.basispoort.simulator import SimulatorServer, TLSFiles, World, make_test_pki


@pytest.fixture
def sim_world() -> World:
    """A fresh 12-school world, the same in every run (find special schools with .find(kind))."""
    return World(seed=7, schools=12)


@pytest.fixture(scope="session")
def sim_pki(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """Test CA, server certificate and client PEM (certificate + key), made once per session."""
    return make_test_pki(tmp_path_factory.mktemp("basispoort-pki"))


@pytest.fixture
def sim_server(sim_world: World, sim_pki: TLSFiles) -> Iterator[SimulatorServer]:
    """HTTPS with a required client certificate, serving ``sim_world``; ipadressen is on.

    Connect with plugins.basispoort.simulator.client_ssl_context(sim_pki) or the client PEM
    ``sim_pki.client`` and CA ``sim_pki.ca``; ``sim_server.url`` is the base URL.
    """
    with SimulatorServer(sim_world, tls=sim_pki, ipadressen=True) as server:
        yield server


@pytest.fixture
def sim_http_server() -> Iterator[SimulatorServer]:
    """Plain HTTP on a fresh World(seed=7, schools=12) of its own (``.world``); ipadressen on."""
    with SimulatorServer(World(seed=7, schools=12), ipadressen=True) as server:
        yield server
