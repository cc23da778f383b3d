"""The database away (down, restarting, cut off): a 503 saying so and when to retry, never a 500.

The outage is a cut proxy in front of the real PostgreSQL; pages get a page in the visitor's
language, the API a JSON answer with Retry-After; both are answered again once it is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api.app import create_app
from api.errors import RETRY_AFTER_SECONDS
from core.db import make_engine, make_sessionmaker
from core.plugins import Plugins, make_plugin_manager
from core.settings import load_settings
from tests.tcp_proxy import TcpProxy, proxied_database

pytestmark = pytest.mark.postgres

TOKEN = "t" * 32
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def proxied_app(tmp_path: Path) -> Iterator[tuple[TcpProxy, TestClient]]:
    """koppel's app on a database of its own, reached through a proxy the test can cut."""
    with proxied_database(tmp_path) as (proxy, via):
        settings = load_settings(api_tokens=[TOKEN], database_url=via, web_secret="w" * 32)
        engine = make_engine(via)
        app = create_app(settings, make_sessionmaker(engine), Plugins(make_plugin_manager()))
        try:
            with TestClient(app, base_url="https://testserver") as client:
                yield proxy, client
        finally:
            engine.dispose()


def test_the_api_answers_503_with_retry_after_while_the_database_is_away(proxied_app):
    proxy, client = proxied_app
    assert client.get("/v1/schools/12AB00/status", headers=BEARER).status_code == 404

    proxy.cut()
    with capture_logs() as logs:
        away = client.get("/v1/schools/12AB00/status", headers=BEARER)
    proxy.restore()

    assert away.status_code == 503
    assert away.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert away.json()["error"] == "DatabaseUnavailable"
    assert "cannot reach its database" in away.json()["detail"]
    assert "koppel doctor" in away.json()["hint"]
    (logged,) = [e for e in logs if e["event"] == "database_unavailable"]
    assert logged["route"] == "/v1/schools/{brin6}/status"  # the template, not the path
    assert logged["error"] == "OperationalError"  # the driver's error type, not its message
    assert set(logged) <= {"event", "log_level", "route", "error", "connection_lost"}
    # Back: the pool connects anew on the next request.
    assert client.get("/v1/schools/12AB00/status", headers=BEARER).status_code == 404


def test_a_page_says_in_words_that_koppel_is_briefly_unavailable(proxied_app):
    proxy, client = proxied_app
    proxy.cut()
    try:
        with capture_logs() as logs:
            page = client.get("/school/link/not-a-real-token", headers={"Accept": "text/html"})
        english = client.get(
            "/school/link/not-a-real-token?lang=en", headers={"Accept": "text/html"}
        )
    finally:
        proxy.restore()

    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert "koppel kan zijn database nu niet bereiken" in page.text
    assert "er is niets opgeslagen of veranderd" in page.text
    assert "Traceback" not in page.text
    # The one-time link's token is a secret: the log line names the route, not the path.
    assert "not-a-real-token" not in str(logs)
    assert [e["route"] for e in logs if e["event"] == "database_unavailable"] == [
        "/school/link/{token}"
    ]
    assert english.status_code == 503
    assert "koppel cannot reach its database right now" in english.text


def test_a_form_s_page_is_offered_again_only_when_it_is_on_this_site(proxied_app):
    """After a form, 'try again' and the language switch lead to the page it was posted from
    (its Referer), never to another site, nor to "//elsewhere", which a browser reads so."""
    proxy, client = proxied_app
    referers = (
        "https://testserver/school/12AB00/basispoort",
        "https://testserver//evil.example/x",
        "https://elsewhere.example/school/12AB00/basispoort",
    )
    proxy.cut()
    try:
        own, doubled, foreign = (
            client.post(
                "/v1/schools/12AB00/admin-link",
                json={"admin": "lvs-user-7"},
                headers={**BEARER, "Accept": "text/html", "Referer": referer},
            )
            for referer in referers
        )
    finally:
        proxy.restore()

    assert {own.status_code, doubled.status_code, foreign.status_code} == {503}
    assert 'class="try-again" href="/school/12AB00/basispoort"' in own.text
    assert 'href="/school/12AB00/basispoort?lang=en"' in own.text
    for elsewhere in (doubled, foreign):
        assert "try-again" not in elsewhere.text
        assert 'href="?lang=en"' in elsewhere.text
        assert "evil.example" not in elsewhere.text and "elsewhere.example" not in elsewhere.text
