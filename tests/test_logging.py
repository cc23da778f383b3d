"""Log set-up: JSON lines off a terminal, levels filtered first, library logs and redaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog
from click.testing import CliRunner

from cli.main import OWN_PROCESS, cli
from core.logging import configure
from core.settings import get_settings


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure("json", "INFO", stream=out)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_level_logger_time_and_context(stream: io.StringIO) -> None:
    log = structlog.get_logger("koppel.test")
    with structlog.contextvars.bound_contextvars(school_id=7):
        log.info("sync_run", counts={"pupils_created": 3}, at=datetime(2026, 1, 2, tzinfo=UTC))
    [line] = lines(stream)
    assert line["event"] == "sync_run" and line["level"] == "info"
    assert line["logger"] == "koppel.test" and line["school_id"] == 7
    assert line["counts"] == {"pupils_created": 3}
    assert line["at"] == "2026-01-02T00:00:00+00:00"
    assert datetime.fromisoformat(line["timestamp"]).tzinfo is not None


def test_lines_below_the_level_are_dropped_and_library_chatter_too(stream: io.StringIO) -> None:
    log = structlog.get_logger("koppel.test")
    log.debug("sync_message_done", run_id=1)
    logging.getLogger("pika").info("connected")
    logging.getLogger("pika").warning("connection lost")
    log.warning("odd", big=2**70)  # beyond 64 bits: orjson refuses, the line still goes out
    assert [(x["event"], x["level"]) for x in lines(stream)] == [
        ("connection lost", "warning"),
        ("odd", "warning"),
    ]
    assert lines(stream)[1]["big"] == 2**70


def test_driver_lines_that_quote_rows_are_cut_from_exceptions(stream: io.StringIO) -> None:
    log = structlog.get_logger("koppel.test")
    detail = "DETAIL:  Key (eckid)=(https://id/" + "secret) already exists."
    try:
        raise ValueError("duplicate key\n" + detail)  # the source line quotes no row
    except ValueError:
        log.exception("sync_failed")
    [line] = lines(stream)
    assert "duplicate key" in line["exception"]
    assert "secret" not in stream.getvalue()


@pytest.mark.parametrize(("obj", "cached"), [(None, False), ({OWN_PROCESS: True}, True)])
def test_only_the_console_script_caches_its_loggers(obj: dict | None, cached: bool) -> None:
    # main() passes OWN_PROCESS; a test's CliRunner does not, so capture_logs keeps working.
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["config", "--markdown"], obj=obj)
        assert result.exit_code == 0, result.output
        assert structlog.get_config()["cache_logger_on_first_use"] is cached
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
        get_settings.cache_clear()
