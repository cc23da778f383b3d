"""Chaos fixtures: private servers and a simulator for the package, a fresh deployment per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core import migrate
from core.db import make_engine
from plugins.basispoort.settings import load_basispoort_settings
from plugins.basispoort.simulator import client_ssl_context, make_test_pki
from plugins.basispoort.source import BasispoortSource
from tests.chaos.night import (
    LEASE_SECONDS,
    MAX_BACKOFF_SECONDS,
    MAX_PUPILS,
    MAX_RETRIES,
    MIN_BACKOFF_SECONDS,
    SCHOOLS,
    SEED,
    ChaosNight,
)
from tests.chaos.servers import PrivateServers, require_private_servers
from tests.conftest import fresh_database_url
from tests.deploy.nights import link_schools
from tests.deploy.processes import delete_queues, services, wait_for
from tests.servers import rabbitmq_url


@pytest.fixture(scope="package")
def private_servers() -> Iterator[PrivateServers]:
    """PostgreSQL and RabbitMQ of this package's own; the suite's server URLs point at them
    meanwhile, so the deployment helpers (tests/deploy) use them unchanged."""
    require_private_servers()
    servers = PrivateServers()
    try:
        servers.start()
        with pytest.MonkeyPatch.context() as env:
            env.setenv("KOPPEL_TEST_POSTGRES_URL", servers.postgres_url)
            env.setenv("KOPPEL_TEST_RABBITMQ_URL", servers.rabbitmq_url)
            yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="package")
def migrated(private_servers: PrivateServers, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated once, the template of every night's own."""
    url = fresh_database_url("postgres", tmp_path_factory.mktemp("chaos-db"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def copy_of(template_url: str) -> str:
    """A new database on the template's server, copied from it (no connection may be open)."""
    template = make_url(template_url)
    name = f"koppel_chaos_{uuid.uuid4().hex[:10]}"
    admin = create_engine(template.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    admin.dispose()
    return template.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="package")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The simulator as its own process over mTLS: the KOPPEL_BASISPOORT_* variables to use."""
    logs = tmp_path_factory.mktemp("chaos-simulator")
    tls = logs / "tls"
    args = ["basispoort-sim", "--port", "0", "--seed", str(SEED), "--schools", str(SCHOOLS)]
    args += ["--max-pupils", str(MAX_PUPILS), "--tls-dir", str(tls)]
    with services(logs) as start:
        sim = start("basispoort-sim", args, {"KOPPEL_LOG_FORMAT": "json"})
        url = wait_for(
            "the simulator to listen",
            lambda: sim.stdout.read_text().partition("listening on ")[2].strip(),
            timeout=30,
        )
        yield {
            "KOPPEL_BASISPOORT_URL": url,
            "KOPPEL_BASISPOORT_CERT": str(tls / "client.pem"),
            "KOPPEL_BASISPOORT_CA": str(tls / "ca.pem"),
        }
        sim.stop()


@pytest.fixture
def night(
    private_servers: PrivateServers, migrated: str, simulator: dict[str, str], tmp_path: Path
) -> Iterator[ChaosNight]:
    """A fresh database and queues on the private servers, the simulator's schools linked."""
    url = copy_of(migrated)
    prefix = f"c{uuid.uuid4().hex[:8]}."
    env = {
        **simulator,
        "KOPPEL_DATABASE_URL": url,
        "KOPPEL_BROKER_URL": private_servers.rabbitmq_url,
        "KOPPEL_QUEUE_PREFIX": prefix,
        "KOPPEL_LOG_FORMAT": "json",
        "KOPPEL_LEASE_SECONDS": str(LEASE_SECONDS),
        "KOPPEL_SYNC_TIME_LIMIT_SECONDS": str(LEASE_SECONDS - 2),
        "KOPPEL_SYNC_MAX_RETRIES": str(MAX_RETRIES),
        "KOPPEL_SYNC_MIN_BACKOFF_SECONDS": str(MIN_BACKOFF_SECONDS),
        "KOPPEL_SYNC_MAX_BACKOFF_SECONDS": str(MAX_BACKOFF_SECONDS),
        # One retry in the client: two failing answers in a row reach the worker's retries.
        "KOPPEL_BASISPOORT_RETRIES": "1",
        "KOPPEL_BASISPOORT_BACKOFF": "0.05",
    }
    engine = make_engine(url)
    pki = make_test_pki(Path(simulator["KOPPEL_BASISPOORT_CA"]).parent)
    http = httpx.Client(verify=client_ssl_context(pki), timeout=30)
    settings = load_basispoort_settings(
        url=simulator["KOPPEL_BASISPOORT_URL"],
        cert=simulator["KOPPEL_BASISPOORT_CERT"],
        ca=simulator["KOPPEL_BASISPOORT_CA"],
    )
    source = BasispoortSource(settings)
    try:
        with services(tmp_path) as start:
            found = ChaosNight(
                env,
                engine,
                simulator["KOPPEL_BASISPOORT_URL"].rstrip("/"),
                http,
                prefix,
                servers=private_servers,
                source=source,
                start=start,
                logs=tmp_path,
            )
            link_schools(found)
            found.faults_cleared()
            found.poison_school()
            yield found
    finally:
        source.close()
        http.close()
        engine.dispose()
        delete_queues(rabbitmq_url(), prefix)
