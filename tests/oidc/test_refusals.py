"""Every authorization or token request koppel must refuse, refused as the specs say: an error
on the client's redirect URI once that URI is known to be the client's, a page otherwise."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from authlib.integrations.base_client import OAuthError

from core.models import OidcCode, OidcPendingAuthorization
from tests.oidc.conftest import REDIRECT, Koppel, Lvs, Registered, query_of
from tests.oidc.helpers import stored


def changed(url: str, drop: tuple[str, ...] = (), **params: str) -> str:
    """The authorization URL with some parameters removed or replaced."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k not in drop}
    return urlunsplit(parts._replace(query=urlencode({**query, **params})))


def assert_error_to_client(response: httpx.Response, error: str, state: str) -> None:
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(f"{REDIRECT}?")
    query = query_of(response)
    assert query["error"] == error, query
    assert query["state"] == state
    assert "code" not in query


@pytest.mark.parametrize(
    ("drop", "params"),
    [
        (("code_challenge", "code_challenge_method"), {}),  # no PKCE at all
        (("code_challenge_method",), {}),  # a missing method means plain
        ((), {"code_challenge_method": "plain"}),
    ],
    ids=["missing", "method-missing", "plain"],
)
def test_authorization_without_pkce_s256_is_refused(koppel: Koppel, drop, params):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()

    answer = koppel.browser.get(changed(login.url, drop, **params))

    assert_error_to_client(answer, "invalid_request", login.state)
    assert stored(koppel, OidcPendingAuthorization) == 0


def test_a_wrong_code_verifier_gets_no_tokens_and_burns_the_code(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]

    with pytest.raises(OAuthError) as wrong:
        lvs.exchange(callback, login, code_verifier="x" * 64)

    assert wrong.value.error == "invalid_grant"
    with pytest.raises(OAuthError):  # the code is spent: an attacker's guess costs the code
        lvs.exchange(callback, login)


@pytest.mark.parametrize(
    "redirect_uri",
    ["https://evil.test/oidc/callback", f"{REDIRECT}/", f"{REDIRECT}?next=/admin"],
    ids=["other-host", "trailing-slash", "extra-query"],
)
def test_an_unregistered_redirect_uri_gets_a_page_and_no_redirect(koppel: Koppel, redirect_uri):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()

    answer = koppel.browser.get(changed(login.url, redirect_uri=redirect_uri))

    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "Inloggen lukt niet" in answer.text and "invalid_request" in answer.text
    assert stored(koppel, OidcPendingAuthorization) == 0


def test_an_unknown_client_gets_a_page_and_no_redirect(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())

    answer = koppel.browser.get(changed(lvs.start().url, client_id="no-such-client"))

    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "invalid_client" in answer.text


def test_a_code_redeemed_twice_fails_and_revokes_the_first_tokens(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]
    token = lvs.exchange(callback, login)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(lvs.metadata["userinfo_endpoint"], headers=bearer).status_code == 200

    with pytest.raises(OAuthError) as again:
        lvs.exchange(callback, login)

    assert again.value.error == "invalid_grant"
    # RFC 6749 4.1.2: the code leaked, so what it bought is withdrawn.
    assert httpx.get(lvs.metadata["userinfo_endpoint"], headers=bearer).status_code == 401


def test_a_code_older_than_60_seconds_is_refused(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]

    koppel.later(seconds=61)
    with pytest.raises(OAuthError) as late:
        lvs.exchange(callback, login)

    assert late.value.error == "invalid_grant"


def test_a_code_still_redeems_just_inside_its_60_seconds(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]

    koppel.later(seconds=55)

    assert "id_token" in lvs.exchange(callback, login)


def test_a_wrong_client_secret_gets_no_tokens(koppel: Koppel):
    registered = koppel.register()
    lvs = Lvs(koppel, registered)
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]
    registered.secret = registered.secret[:-2] + "xx"
    impostor = Lvs(koppel, registered)

    with pytest.raises(OAuthError) as refused:
        impostor.exchange(callback, login)

    assert refused.value.error == "invalid_client"
    assert "id_token" in lvs.exchange(callback, login)  # the real client's code is untouched


def test_another_clients_code_is_refused(koppel: Koppel):
    lvs, other = Lvs(koppel, koppel.register()), Lvs(koppel, koppel.register())
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]

    with pytest.raises(OAuthError) as refused:
        other.exchange(callback, login)

    assert refused.value.error == "invalid_grant"


def test_a_request_without_the_openid_scope_is_refused(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()

    answer = koppel.browser.get(changed(login.url, scope="profile"))

    assert_error_to_client(answer, "invalid_scope", login.state)


def test_prompt_none_without_a_sign_in_answers_login_required(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start(prompt="none")

    assert_error_to_client(koppel.browser.get(login.url), "login_required", login.state)


def test_a_replayed_authorization_request_is_refused_once_its_nonce_was_used(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()
    koppel.sign_in(login.url, koppel.teacher)

    answer = koppel.browser.get(login.url)

    assert_error_to_client(answer, "invalid_request", login.state)


def test_a_sign_in_that_took_too_long_gets_a_page(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    relay_state = koppel.ask(lvs.start().url)

    koppel.later(seconds=601)
    late = koppel.come_back(relay_state, koppel.teacher)

    assert late.status_code == 400 and "location" not in late.headers
    assert "Inloggen duurde te lang" in late.text
    assert stored(koppel, OidcCode) == 0


def test_a_sign_in_that_comes_back_twice_gets_one_code(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    relay_state = koppel.ask(lvs.start().url)
    assert koppel.come_back(relay_state, koppel.teacher).status_code == 302

    again = koppel.come_back(relay_state, koppel.teacher)

    assert again.status_code == 400 and "location" not in again.headers
    assert stored(koppel, OidcCode) == 1


def test_a_removed_clients_codes_and_tokens_stop_working(koppel: Koppel):
    from core.oidc.clients import remove_client

    registered = koppel.register()
    lvs = Lvs(koppel, registered)
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]
    remove_client(koppel.db, registered.name)
    koppel.db.commit()

    with pytest.raises(OAuthError) as refused:
        lvs.exchange(callback, login)

    assert refused.value.error == "invalid_client"


NUL = "\x00"


def test_hostile_parameters_are_refused_with_a_400_not_a_500(koppel: Koppel):
    registered = koppel.register()
    lvs = Lvs(koppel, registered)
    login = lvs.start()

    for params in (
        {"client_id": f"x{NUL}y"},
        {"nonce": f"n{NUL}"},
        {"state": "s" * 501},
        {"redirect_uri": 'https://lvs.test/"quoted\\'},
        {"redirect_uri": "https://lvs.test/café"},
        {"idp_hint": "../../etc"},
        {"response_type": "token"},
    ):
        answer = koppel.browser.get(changed(login.url, **params))
        assert answer.status_code in (302, 400), (params, answer.text)
        assert "code=" not in answer.headers.get("location", "")
    token_endpoint = lvs.metadata["token_endpoint"]
    body = {"grant_type": "authorization_code", "code": "c", "redirect_uri": REDIRECT}
    for auth in ((f"a{NUL}", "b"), (registered.client_id, f"s{NUL}")):
        assert httpx.post(token_endpoint, data=body, auth=auth).status_code in (400, 401)
    assert httpx.post(token_endpoint, data={**body, "code": f"c{NUL}"}).status_code == 400
    relay = {"relay_state": f"oidc:{NUL}", "kind": "staff", "person_id": koppel.teacher.id}
    assert koppel.browser.get("/test-only/sign-in", params=relay).status_code == 400


def test_an_idp_hint_that_is_no_name_goes_back_as_invalid_request(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start(idp_hint="../admin")

    assert_error_to_client(koppel.browser.get(login.url), "invalid_request", login.state)


def test_the_code_is_bound_to_the_redirect_uri_it_was_issued_for(koppel: Koppel):
    from core.oidc.clients import add_client

    other = "https://lvs.test/elsewhere"
    new = add_client(koppel.db, "two-uris", [REDIRECT, other])
    koppel.db.commit()
    lvs = Lvs(koppel, Registered("two-uris", new.client.client_id, new.secret))
    login = lvs.start()
    callback = koppel.sign_in(login.url, koppel.teacher).headers["location"]
    elsewhere = Lvs(koppel, Registered("two-uris", new.client.client_id, new.secret, other))

    with pytest.raises(OAuthError) as refused:
        elsewhere.exchange(callback.replace(REDIRECT, other), login)

    assert refused.value.error == "invalid_grant"
    assert "redirect_uri" in str(refused.value.description)


def test_a_client_removed_while_koppel_still_knows_it_gets_nothing_stored(koppel: Koppel):
    # koppel keeps the clients it read for a while (core/oidc/registered.py): removal must
    # still count at once.
    from core.oidc.clients import remove_client

    registered = koppel.register()
    lvs = Lvs(koppel, registered)
    koppel.ask(lvs.start().url)  # the client is read, and kept
    remove_client(koppel.db, registered.name)
    koppel.db.commit()

    answer = koppel.browser.get(lvs.start().url)

    assert answer.status_code == 400 and "location" not in answer.headers
    assert "invalid_client" in answer.text
    assert stored(koppel, OidcPendingAuthorization) == 0
