"""Signing keys: made on first use; a rotation keeps the old key in the JWKS until the tokens
it signed have expired, and the next rotation (or prune) drops it."""

from __future__ import annotations

from datetime import timedelta

import httpx
from joserfc import jws
from sqlalchemy import select

from core.models import OidcSigningKey, utcnow
from core.oidc.keys import CLOCK_MARGIN, rotate
from core.settings import load_settings
from tests.oidc.conftest import Koppel, Lvs


def kids(lvs: Lvs) -> list[str]:
    return [key["kid"] for key in httpx.get(lvs.metadata["jwks_uri"]).json()["keys"]]


def kid_of(token: dict) -> str:
    return str(jws.extract_compact(token["id_token"].encode()).headers()["kid"])


def test_the_first_key_is_made_when_the_first_token_is_signed(koppel: Koppel):
    lvs = Lvs(koppel, koppel.register())
    assert kids(lvs) == []

    token, _ = lvs.sign_in(koppel.teacher)

    assert kids(lvs) == [kid_of(token)]
    assert lvs.sign_in(koppel.pupil)[0] and kids(lvs) == [kid_of(token)]


def test_a_token_signed_before_a_rotation_verifies_until_it_expires(koppel: Koppel):
    settings = load_settings()
    lvs = Lvs(koppel, koppel.register())
    old_login = lvs.start()
    callback = koppel.sign_in(old_login.url, koppel.teacher).headers["location"]
    old_token = lvs.exchange(callback, old_login)

    rotated_at = utcnow()
    rotate(koppel.db, settings, rotated_at)
    koppel.db.commit()
    new_token, _ = lvs.sign_in(koppel.teacher)

    assert kid_of(new_token) != kid_of(old_token)
    assert set(kids(lvs)) == {kid_of(old_token), kid_of(new_token)}
    assert lvs.verify(old_token, old_login)["person_id"] == koppel.teacher.id

    # Once every token the old key signed has expired, the JWKS no longer offers it...
    expired = rotated_at + timedelta(seconds=settings.oidc_token_seconds) + CLOCK_MARGIN
    koppel.set_clock(expired + timedelta(seconds=1))
    assert kids(lvs) == [kid_of(new_token)]
    # ... and the next rotation deletes it.
    rotate(koppel.db, settings, expired + timedelta(seconds=1))
    koppel.db.commit()
    stored = set(koppel.db.scalars(select(OidcSigningKey.kid)))
    assert kid_of(old_token) not in stored and kid_of(new_token) in stored


def test_just_before_its_tokens_expire_the_old_key_is_still_published(koppel: Koppel):
    settings = load_settings()
    lvs = Lvs(koppel, koppel.register())
    old_token, _ = lvs.sign_in(koppel.teacher)
    rotated_at = utcnow()
    rotate(koppel.db, settings, rotated_at)
    koppel.db.commit()

    koppel.set_clock(rotated_at + timedelta(seconds=settings.oidc_token_seconds))

    assert kid_of(old_token) in kids(lvs)
