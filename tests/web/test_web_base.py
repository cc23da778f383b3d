"""What every page shares: security headers, the language switch, CSRF refusal, readable times."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from api.web import install_web
from api.web.csrf import require_csrf
from api.web.render import message_page, render
from api.web.times import readable_time
from core.settings import load_settings
from tests.live_server import serve

SECRET = "s" * 40


def small_app() -> FastAPI:
    app = FastAPI()
    install_web(app, load_settings(web_secret=SECRET))

    @app.get("/notice")
    def notice(request: Request):  # type: ignore[no-untyped-def]
        return message_page(request, 200, ("Let op", "Note"), ("Nederlands.", "English."))

    @app.get("/form")
    def form(request: Request):  # type: ignore[no-untyped-def]
        return render(request, "message.html", {"title": ("F", "F"), "sentence": ("x", "x")})

    @app.post("/form", dependencies=[Depends(require_csrf)])
    def post(request: Request):  # type: ignore[no-untyped-def]
        return message_page(request, 200, ("OK", "OK"), ("Opgeslagen.", "Saved."))

    return app


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    with serve(small_app()) as url:
        yield httpx.Client(base_url=url)


def test_every_page_carries_a_strict_content_security_policy(client: httpx.Client) -> None:
    answer = client.get("/notice")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["x-frame-options"] == "DENY"


def test_pages_speak_dutch_until_english_is_chosen(client: httpx.Client) -> None:
    assert "Nederlands." in client.get("/notice").text
    assert '<html lang="nl">' in client.get("/notice").text
    english = client.get("/notice?lang=en")
    assert "English." in english.text and '<html lang="en">' in english.text
    assert "koppel_lang=en" in english.headers["set-cookie"]


def test_a_form_posted_without_its_token_is_refused_with_a_page_saying_what_to_do(
    client: httpx.Client,
) -> None:
    answer = client.post("/form", data={"anything": "1"})
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "Laad de pagina opnieuw en probeer het nog eens." in answer.text
    assert "er is niets opgeslagen of veranderd" in answer.text
    english = client.post("/form?lang=en", data={"anything": "1", "csrf_token": "forged"})
    assert english.status_code == 403
    assert "Reload the page and try again." in english.text


def test_readable_times_are_amsterdam_time_to_the_minute() -> None:
    winter = datetime(2026, 12, 7, 0, 30, 15, 123456, tzinfo=UTC)
    assert readable_time(winter) == "7 december 2026, 01:30"
    assert readable_time(datetime(2026, 7, 1, 22, 5), "en") == "2 July 2026, 00:05"
