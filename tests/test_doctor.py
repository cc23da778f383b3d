"""'koppel doctor' against the real servers and the simulator, and against each broken set-up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import migrate
from plugins.basispoort.simulator import SimulatorServer, TLSFiles
from tests.cli_process import run_koppel
from tests.conftest import BACKENDS, migrated_database
from tests.deploy.processes import free_port
from tests.servers import rabbitmq_url


def doctor(env: dict[str, str], cwd: Path) -> tuple[int, dict[str, tuple[str, str]]]:
    """Exit code, and per check its verdict and text."""
    result = run_koppel("doctor", env=env, cwd=cwd, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    found = {}
    for line in result.stdout.splitlines():
        verdict, rest = line.split(None, 1)
        longest_first = sorted(CHECK_NAMES, key=len, reverse=True)
        check = next(name for name in longest_first if rest.startswith(name + " "))
        found[check] = (verdict, rest[len(check) :].strip())
    assert list(found) == CHECK_NAMES, result.stdout
    return result.returncode, found


CHECK_NAMES = [
    "settings",
    "settings together",
    "database",
    "broker",
    "plugins",
    "sign-in keys",
    "basispoort certificate",
    "basispoort search",
]


@pytest.fixture
def healthy(tmp_path: Path, sim_server: SimulatorServer, sim_pki: TLSFiles) -> dict[str, str]:
    """A set-up where everything works: SQLite, RabbitMQ, the simulator over mTLS."""
    return {
        "KOPPEL_DATABASE_URL": migrated_database("sqlite", tmp_path),
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_BASISPOORT_URL": sim_server.url,
        "KOPPEL_BASISPOORT_CERT": str(sim_pki.client),
        "KOPPEL_BASISPOORT_CA": str(sim_pki.ca),
        "KOPPEL_API_TOKENS": '["' + "t" * 24 + '"]',
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_everything_ok_against_the_real_servers(tmp_path, healthy, sim_server, backend):
    env = {**healthy, "KOPPEL_DATABASE_URL": migrated_database(backend, tmp_path)}
    code, found = doctor(env, tmp_path)
    assert code == 0
    assert {check: verdict for check, (verdict, _) in found.items()} == dict.fromkeys(
        CHECK_NAMES, "ok"
    )
    assert f"revision {migrate.head()}" in found["database"][1]
    # The sources an UnknownSource error sends the operator here to find.
    assert "identity sources: basispoort" in found["plugins"][1]
    assert "login policies: ip_restriction" in found["plugins"][1]
    assert sim_server.hits["GET /rest/v2/nawsearch"] == 1


def expiring_pem(path: Path, days: int) -> Path:
    """One PEM file with a self-signed certificate valid ``days`` more days, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "koppel-test-publisher")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=300))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


BROKEN = {
    "no database yet": ({"KOPPEL_DATABASE_URL": "sqlite:///koppel.db"}, "database", "db upgrade"),
    "empty url": ({"KOPPEL_DATABASE_URL": ""}, "settings", "not a database URL"),
    "nonsense url": ({"KOPPEL_DATABASE_URL": "nonsense"}, "settings", "not a database URL"),
    "mysql": ({"KOPPEL_DATABASE_URL": "mysql://k@db/k"}, "settings", "SQLite or PostgreSQL"),
    "postgres down": (
        {"KOPPEL_DATABASE_URL": "postgresql+psycopg://k@127.0.0.1:{port}/k"},
        "database",
        "Connection refused",
    ),
    "sqlite folder missing": (
        {"KOPPEL_DATABASE_URL": "sqlite:///{tmp}/missing/k.db"},
        "database",
        "missing does not exist",
    ),
    "env prod": ({"KOPPEL_BASISPOORT_ENV": "prod"}, "settings", "KOPPEL_BASISPOORT_ENV"),
    "roles python form": (
        {"KOPPEL_IP_RESTRICTION_ROLES": "['pupil']"},
        "settings",
        "KOPPEL_IP_RESTRICTION_ROLES is not valid JSON",
    ),
    "window 25:00": (
        {"KOPPEL_SCHEDULER_WINDOW_START": "25:00"},
        "settings",
        "is not a time of day",
    ),
    "empty window": (
        {"KOPPEL_SCHEDULER_WINDOW_START": "03:00", "KOPPEL_SCHEDULER_WINDOW_END": "03:00"},
        "settings together",
        "window is empty",
    ),
    "timing": (
        {"KOPPEL_SYNC_TIME_LIMIT_SECONDS": "900"},
        "settings together",
        "KOPPEL_BROKER_CONSUMER_TIMEOUT_SECONDS",
    ),
    "rabbitmq down": (
        {"KOPPEL_BROKER_URL": "amqp://guest:guest@127.0.0.1:{port}/%2F"},
        "broker",
        "cannot reach RabbitMQ",
    ),
    "certificate expiring": (
        {"KOPPEL_BASISPOORT_CERT": "{tmp}/expiring.pem"},
        "basispoort certificate",
        "expires in 9 days",
    ),
    "saml key not rsa": (
        {"KOPPEL_SSO_SIGNING_KEY": "{tmp}/expiring.pem"},
        "sign-in keys",
        "holds no RSA key",
    ),
    "basispoort down": (
        {"KOPPEL_BASISPOORT_URL": "https://127.0.0.1:{port}/"},
        "basispoort search",
        "at https://127.0.0.1:",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_each_broken_set_up_is_found(tmp_path: Path, healthy: dict[str, str], broken: str):
    changes, check, says = BROKEN[broken]
    expiring_pem(tmp_path / "expiring.pem", days=10)
    port = free_port()
    env = {**healthy, **{k: v.format(port=port, tmp=tmp_path) for k, v in changes.items()}}
    code, found = doctor(env, tmp_path)
    assert code == 1
    verdict, text = found[check]
    assert verdict == "problem" and says in text
    problems = [name for name, (verdict, _) in found.items() if verdict == "problem"]
    assert problems == [check]  # the rest is ok, or skipped because of it
    assert not (tmp_path / "koppel.db").exists()
