"""docker-compose.yml, checked without Docker: real commands, start order, health, profiles."""

from __future__ import annotations

import re

import click
import pytest

from cli.config_cmd import settings_classes
from cli.main import cli
from core.settings import Settings
from tests.deploy.compose import ROOT, compose, compose_command, service

KOPPEL_SERVICES = ("migrate", "scheduler", "worker", "api", "basispoort-sim")


def parse_with_cli(args: list[str]) -> click.Command:
    """Resolve ``args`` to a koppel command and parse its options as click would; return it."""
    command: click.Command = cli
    parent = cli.make_context("koppel", [], resilient_parsing=True)
    rest = list(args)
    while isinstance(command, click.Group):
        assert rest, f"{args}: names a group, not a command"
        found = command.get_command(parent, rest[0])
        assert found is not None, f"koppel has no command {rest[0]!r} (from {args})"
        parent = click.Context(found, info_name=rest[0], parent=parent)
        command, rest = found, rest[1:]
    command.make_context(" ".join(args), rest, parent=parent.parent)  # raises on a bad option
    return command


@pytest.mark.parametrize("name", KOPPEL_SERVICES)
def test_every_koppel_service_runs_a_real_command(name: str) -> None:
    spec = service(name)
    assert spec.get("build") == "." and spec["image"] == "koppel:latest"
    parse_with_cli(compose_command(name))


def test_the_image_runs_koppel() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["koppel"]' in dockerfile
    assert "pip install ." in dockerfile


def test_a_wrong_option_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        parse_with_cli(["worker", "--proceses", "2"])
    with pytest.raises(AssertionError, match="no command"):
        parse_with_cli(["wroker"])


def test_services_start_in_order() -> None:
    assert service("migrate")["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert service("migrate")["restart"] == "no"
    for name in ("scheduler", "worker"):
        assert service(name)["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "rabbitmq": {"condition": "service_healthy"},
        }


def test_long_running_services_have_health_checks() -> None:
    for name in ("postgres", "rabbitmq", "scheduler", "worker", "api", "basispoort-sim"):
        check = service(name)["healthcheck"]["test"]
        assert check[0] == "CMD" and len(check) > 1, name
    # The heartbeat the check reads is the file the command touches.
    for name in ("scheduler", "worker"):
        command = compose_command(name)
        heartbeat = command[command.index("--heartbeat-file") + 1]
        assert heartbeat in service(name)["healthcheck"]["test"][-1]
    # The API's asks /ready (tests/test_health.py runs it against a real 'koppel api').
    assert "/ready'" in service("api")["healthcheck"]["test"][-1]


def test_the_simulator_is_for_development_only() -> None:
    services = compose()["services"]
    assert services["basispoort-sim"]["profiles"] == ["dev"]
    assert [name for name, spec in services.items() if "profiles" in spec] == ["basispoort-sim"]


def test_the_worker_can_be_scaled_and_stops_gracefully() -> None:
    worker = service("worker")
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N
    grace = re.fullmatch(r"(\d+)m", worker["stop_grace_period"])
    assert grace and int(grace.group(1)) * 60 > Settings().sync_time_limit_seconds


def test_data_lives_in_named_volumes() -> None:
    spec = compose()
    assert set(spec["volumes"]) == {"postgres-data", "rabbitmq-data"}
    assert "postgres-data:/var/lib/postgresql/data" in spec["services"]["postgres"]["volumes"]
    assert "rabbitmq-data:/var/lib/rabbitmq" in spec["services"]["rabbitmq"]["volumes"]


def test_every_koppel_variable_is_a_real_setting() -> None:
    known = {
        f"{cls.model_config['env_prefix']}{name}".upper()
        for cls in settings_classes()
        for name in cls.model_fields
    }
    for name in KOPPEL_SERVICES:
        variables = set(service(name)["environment"])
        assert variables <= known, f"{name}: {sorted(variables - known)}"


def test_rabbitmq_makes_classic_queues_version_2_in_compose_and_in_the_test_services() -> None:
    setting = "-rabbit classic_queue_default_version 2"
    assert setting in service("rabbitmq")["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    services = (ROOT / "scripts" / "services.sh").read_text()
    assert re.search(r'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=".*' + setting + '"', services)


def test_rabbitmq_consumer_timeout_matches_what_koppel_assumes() -> None:
    args = service("rabbitmq")["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    milliseconds = int(re.search(r"consumer_timeout (\d+)", args).group(1))  # type: ignore[union-attr]
    assert milliseconds == Settings().broker_consumer_timeout_seconds * 1000


def test_the_scheduler_and_the_api_serve_metrics_inside_the_network() -> None:
    for name in ("scheduler", "api"):
        port = service(name)["environment"]["KOPPEL_METRICS_PORT"]
        assert service(name)["expose"] == [port], name
    assert all(":9191" not in p for p in service("api")["ports"])  # not published
