"""A stock OIDC client (authlib's) signs people in through koppel over real HTTP."""

from __future__ import annotations

import re

import httpx
from authlib.oidc.discovery import OpenIDProviderMetadata

from core.models import School
from tests.oidc.conftest import REDIRECT, Koppel, Lvs, query_of


def test_discovery_names_koppel_as_issuer_and_passes_authlibs_checks(koppel: Koppel):
    metadata = httpx.get(f"{koppel.url}/.well-known/openid-configuration").json()

    OpenIDProviderMetadata(metadata).validate()
    assert metadata["issuer"] == koppel.url
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["subject_types_supported"] == ["pairwise"]


def test_a_teacher_signs_in_and_the_lvs_gets_verified_claims(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    login = lvs.start()

    callback = koppel.sign_in(login.url, koppel.teacher)

    assert callback.status_code == 302
    assert callback.headers["location"].startswith(f"{REDIRECT}?")
    assert query_of(callback)["state"] == login.state
    token = lvs.exchange(callback.headers["location"], login)
    claims = lvs.verify(token, login)
    assert claims["iss"] == koppel.url
    assert claims["aud"] == lvs.registered.client_id
    assert claims["nonce"] == login.nonce
    assert claims["iat"] <= claims["auth_time"] + 5 and claims["exp"] == claims["iat"] + 300
    assert {k: claims[k] for k in ("person_kind", "person_id", "brin6", "roles", "groups")} == {
        "person_kind": "staff",
        "person_id": koppel.teacher.id,
        "brin6": koppel.db.get_one(School, koppel.teacher.school_id).brin6,
        "roles": ["Leerkracht"],
        "groups": ["Groep 7A"],
    }
    # Not koppel's id: an HMAC, 256 bits in base64url.
    assert claims["sub"] != str(koppel.teacher.id) and re.fullmatch(r"[\w-]{43}", claims["sub"])
    assert token["token_type"].lower() == "bearer" and "refresh_token" not in token


def test_userinfo_answers_the_same_claims_for_the_access_token(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    token, claims = lvs.sign_in(koppel.pupil)

    info = httpx.get(
        lvs.metadata["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )

    assert info.status_code == 200, info.text
    assert info.json() == {
        k: claims[k] for k in ("sub", "person_kind", "person_id", "brin6", "roles", "groups", "idp")
    }
    assert info.json()["person_kind"] == "pupil" and info.json()["roles"] == []
    assert httpx.get(lvs.metadata["userinfo_endpoint"]).status_code == 401
    wrong = {"Authorization": "Bearer not-a-token"}
    assert httpx.get(lvs.metadata["userinfo_endpoint"], headers=wrong).status_code == 401


def test_client_secret_post_works_as_well_as_basic(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register(), auth_method="client_secret_post")

    _, claims = lvs.sign_in(koppel.teacher)

    assert claims["person_id"] == koppel.teacher.id


def test_sub_is_stable_per_client_and_differs_between_clients(koppel: Koppel):
    first, second = Lvs(koppel, koppel.register()), Lvs(koppel, koppel.register())

    sub_1a = first.sign_in(koppel.teacher)[1]["sub"]
    sub_1b = first.sign_in(koppel.teacher)[1]["sub"]
    sub_2 = second.sign_in(koppel.teacher)[1]["sub"]
    pupil_1 = first.sign_in(koppel.pupil)[1]["sub"]

    assert sub_1a == sub_1b
    assert sub_2 != sub_1a
    assert pupil_1 != sub_1a


def test_the_idp_hint_chooses_the_identity_provider(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())

    asked = koppel.browser.get(lvs.start(idp_hint="entree").url)

    assert asked.status_code == 302
    assert asked.headers["location"].startswith("/sso/entree/login?relay_state=oidc%3A")


def test_a_client_registered_after_koppel_read_the_clients_works_at_once(koppel: Koppel):
    # koppel keeps the clients it read (core/oidc/registered.py); a new one must not wait.
    Lvs(koppel, koppel.register()).sign_in(koppel.teacher)

    _, claims = Lvs(koppel, koppel.register()).sign_in(koppel.pupil)

    assert claims["person_id"] == koppel.pupil.id
