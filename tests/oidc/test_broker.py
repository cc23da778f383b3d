"""Sign-ins the identity provider starts (Basispoort's deep link): on to the LVS's login
initiation, and a one-use broker session so its authorization needs no second sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from core.models import OidcCode
from core.oidc.clients import remove_client
from tests.oidc.conftest import REDIRECT, Koppel, Lvs, query_of
from tests.oidc.stub_sign_in import PATH as STUB_SIGN_IN

LOGIN = "https://lvs.test/oidc/login"


@pytest.fixture
def browser(koppel: Koppel) -> Iterator[TestClient]:
    """A browser that keeps koppel's Secure cookie (httpx drops Secure cookies over http)."""
    with TestClient(koppel.app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def deep_link(browser: TestClient, koppel: Koppel, relay_state: str = ""):  # type: ignore[no-untyped-def]
    params = {"relay_state": relay_state, "kind": "staff", "person_id": koppel.teacher.id}
    return browser.get(STUB_SIGN_IN, params=params)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_deep_link_sign_in_goes_to_the_lvs_and_its_authorization_needs_no_second_sign_in(
    koppel: Koppel, browser: TestClient
):
    lvs = Lvs(koppel, koppel.register(initiate_login_uri=LOGIN))

    initiated = deep_link(browser, koppel)

    assert initiated.status_code == 302
    assert initiated.headers["location"] == f"{LOGIN}?iss={quote(koppel.url, safe='')}"
    cookie = initiated.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    login = lvs.start()
    answer = browser.get(path_of(login.url))
    assert answer.status_code == 302 and answer.headers["location"].startswith(REDIRECT)
    assert query_of(answer)["state"] == login.state
    claims = lvs.verify(lvs.exchange(answer.headers["location"], login), login)
    assert claims["person_id"] == koppel.teacher.id and claims["nonce"] == login.nonce
    # Used once: the next authorization signs in at the identity provider again.
    again = browser.get(path_of(lvs.start().url))
    assert urlsplit(again.headers["location"]).path == "/sso/basispoort/login"


def test_the_broker_session_ends_after_its_minutes(koppel: Koppel, browser: TestClient):
    lvs = Lvs(koppel, koppel.register(initiate_login_uri=LOGIN))
    deep_link(browser, koppel)

    koppel.later(seconds=301)
    answer = browser.get(path_of(lvs.start().url))

    assert urlsplit(answer.headers["location"]).path == "/sso/basispoort/login"


def test_the_broker_session_is_only_for_the_client_it_went_to(koppel: Koppel, browser: TestClient):
    koppel.register(initiate_login_uri=LOGIN)
    other = Lvs(koppel, koppel.register())
    deep_link(browser, koppel)

    answer = browser.get(path_of(other.start().url))

    assert urlsplit(answer.headers["location"]).path == "/sso/basispoort/login"


def test_the_relay_state_chooses_among_clients_that_start_logins(
    koppel: Koppel, browser: TestClient
):
    koppel.register(initiate_login_uri="https://one.test/login")
    chosen = koppel.register(initiate_login_uri="https://two.test/login")

    assert (
        deep_link(browser, koppel, chosen.name)
        .headers["location"]
        .startswith("https://two.test/login?iss=")
    )
    unclear = deep_link(browser, koppel)
    assert unclear.status_code == 200 and "location" not in unclear.headers
    assert "weet niet naar welk leerlingvolgsysteem" in unclear.text


def test_without_a_client_that_starts_logins_the_person_gets_a_clear_page(
    koppel: Koppel, browser: TestClient
):
    lvs = Lvs(koppel, koppel.register())  # no initiate_login_uri

    answer = deep_link(browser, koppel)

    assert answer.status_code == 200 and "location" not in answer.headers
    assert "Je bent ingelogd" in answer.text
    # No broker session was left for anyone: the LVS's own login signs in as usual.
    later = browser.get(path_of(lvs.start().url))
    assert urlsplit(later.headers["location"]).path == "/sso/basispoort/login"


def test_a_client_removed_after_the_deep_link_gets_no_code(koppel: Koppel, browser: TestClient):
    # The deep link read the client and koppel keeps it a while: the code must still not come.
    registered = koppel.register(initiate_login_uri=LOGIN)
    lvs = Lvs(koppel, registered)
    deep_link(browser, koppel)
    remove_client(koppel.db, registered.name)
    koppel.db.commit()

    answer = browser.get(path_of(lvs.start().url))

    assert answer.status_code == 400 and "location" not in answer.headers
    assert "invalid_client" in answer.text
    koppel.db.expire_all()
    assert koppel.db.scalar(select(func.count()).select_from(OidcCode)) == 0


def test_an_authorization_request_replayed_after_a_deep_link_gets_no_second_code(
    koppel: Koppel, browser: TestClient
):
    # With the broker session the code is issued at once; the nonce is checked as it is stored.
    lvs = Lvs(koppel, koppel.register(initiate_login_uri=LOGIN))
    login = lvs.start()
    deep_link(browser, koppel)
    assert browser.get(path_of(login.url)).status_code == 302
    deep_link(browser, koppel)

    again = browser.get(path_of(login.url))

    assert again.status_code == 302 and query_of(again)["error"] == "invalid_request"
    assert "code" not in query_of(again)
