"""Fixtures around the Basispoort simulator, for every test directory (a pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from cli import runtime
from cli.main import cli
from core.plugins import Plugins, make_plugin_manager, set_plugins
from core.settings import get_settings
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


@pytest.fixture
def koppel_plugins() -> list[object]:
    """Extra plugins for the ``koppel`` fixture; override it in a test module to add some."""
    return []


@pytest.fixture
def koppel(
    monkeypatch: pytest.MonkeyPatch,
    fresh_db_url: str,
    sim_server: SimulatorServer,
    sim_pki: TLSFiles,
    koppel_plugins: list[object],
) -> Iterator:
    """Run a koppel command in-process against ``sim_server`` over mTLS, on a fresh database.

    ``koppel("sync", brin6, "--json")`` returns (exit code, output): stdout alone for --json,
    stdout and stderr otherwise.
    """
    monkeypatch.setenv("KOPPEL_DATABASE_URL", fresh_db_url)
    monkeypatch.setenv("KOPPEL_BASISPOORT_URL", sim_server.url)
    monkeypatch.setenv("KOPPEL_BASISPOORT_CERT", str(sim_pki.client))
    monkeypatch.setenv("KOPPEL_BASISPOORT_CA", str(sim_pki.ca))
    monkeypatch.setenv("KOPPEL_BASISPOORT_IPADRESSEN", "true")
    monkeypatch.setenv("KOPPEL_BASISPOORT_RETRIES", "1")
    monkeypatch.setenv("KOPPEL_BASISPOORT_BACKOFF", "0.01")
    monkeypatch.delenv("KOPPEL_BROKER_URL", raising=False)
    get_settings.cache_clear()
    runtime.forget_engines()
    set_plugins(Plugins(make_plugin_manager(extra=koppel_plugins)))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        out = result.stdout if "--json" in args else result.stdout + result.stderr
        return result.exit_code, out

    try:
        yield run
    finally:
        set_plugins(None)
        get_settings.cache_clear()
        runtime.forget_engines()
