"""/health and /ready of a running 'koppel api', against the real database and RabbitMQ."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli_process import http_ok
from tests.conftest import BACKENDS, fresh_database_url
from tests.deploy.compose import service
from tests.deploy.processes import free_port, run, services, wait_for
from tests.servers import rabbitmq_url

TOKEN = "a-token-long-enough-for-koppel"


def compose_health_check(port: int) -> int:
    """Run the api service's health check from docker-compose.yml against ``port``."""
    command = service("api")["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    code = command[3].replace(":8000/", f":{port}/")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode


@pytest.mark.parametrize("backend", BACKENDS)
def test_ready_when_database_and_broker_answer_without_a_token(tmp_path: Path, backend: str):
    env = {
        "KOPPEL_DATABASE_URL": fresh_database_url(backend, tmp_path),
        "KOPPEL_BROKER_URL": rabbitmq_url(),
        "KOPPEL_API_TOKENS": f'["{TOKEN}"]',
    }
    run(["db", "upgrade"], env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with services(tmp_path) as start:
        start("api", ["api", "--port", str(port)], env)
        wait_for("the API", lambda: http_ok(f"{base}/health"), timeout=60)
        assert httpx.get(f"{base}/health", timeout=5).json() == {"status": "alive"}
        ready = httpx.get(f"{base}/ready", timeout=10)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "database": "ok", "broker": "ok"}
        assert httpx.get(f"{base}/openapi.json", timeout=5).status_code == 401  # still guarded
        assert compose_health_check(port) == 0


def test_not_ready_names_the_part_that_is_down(tmp_path: Path, fresh_db_url: str):
    env = {
        "KOPPEL_DATABASE_URL": fresh_db_url,
        "KOPPEL_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
        "KOPPEL_API_TOKENS": f'["{TOKEN}"]',
        "KOPPEL_LOG_FORMAT": "json",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with services(tmp_path) as start:
        api = start("api", ["api", "--port", str(port)], env)
        wait_for("the API", lambda: http_ok(f"{base}/health"), timeout=60)
        ready = httpx.get(f"{base}/ready", timeout=10)
        assert ready.status_code == 503
        assert ready.json() == {"status": "not ready", "database": "ok", "broker": "unreachable"}
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200  # alive all the same
        assert compose_health_check(port) != 0
        api.stop()
    assert "cannot reach RabbitMQ" in api.stderr.read_text()
