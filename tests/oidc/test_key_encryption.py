"""Signing keys at rest: encrypted with KOPPEL_OIDC_KEY_ENCRYPTION_KEY; plain ones from before
keep working until 'koppel oidc keys encrypt' (or a rotation) encrypts them; a wrong or
missing key is one clear line, never a traceback, and no key is ever printed or logged."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from cli.main import cli
from core.models import OidcSigningKey, utcnow
from core.oidc.keys import encrypt_keys, rotate
from core.settings import get_settings, load_settings
from tests.login.conftest import sessions_on
from tests.oidc.conftest import Koppel, Lvs, running_koppel

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
VARIABLE = "KOPPEL_OIDC_KEY_ENCRYPTION_KEY"
URL_SAFE_BASE64 = set(string.ascii_letters + string.digits + "-_=")


def use_key(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    """The setting as the CLI and the API (through get_settings) read it."""
    if value is None:
        monkeypatch.delenv(VARIABLE, raising=False)
    else:
        monkeypatch.setenv(VARIABLE, value)
    get_settings.cache_clear()


@pytest.fixture
def encrypting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_key(monkeypatch, NEW)
    yield
    get_settings.cache_clear()


@pytest.fixture
def koppel_encrypting(db, encrypting) -> Iterator[Koppel]:
    with running_koppel(db, sessions_on(db)) as running:
        yield running


def stored(koppel: Koppel) -> dict[str, str]:
    koppel.db.expire_all()
    return {row.kid: row.private_jwk for row in koppel.db.scalars(select(OidcSigningKey))}


def koppel_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_key_made_with_the_setting_is_stored_encrypted_and_signs(koppel_encrypting: Koppel):
    lvs = Lvs(koppel_encrypting, koppel_encrypting.register())

    _token, claims = lvs.sign_in(koppel_encrypting.teacher)  # checked against the JWKS

    assert claims["person_id"] == koppel_encrypting.teacher.id
    [text] = stored(koppel_encrypting).values()
    assert text.startswith("fernet1:")
    token = text.removeprefix("fernet1:")
    # A Fernet token (url-safe base64 only: no JSON, no key in the clear) that opens to the JWK.
    assert set(token) <= URL_SAFE_BASE64, token
    assert json.loads(Fernet(NEW).decrypt(token))["kty"] == "RSA"


def test_a_plain_key_from_before_keeps_signing_and_is_encrypted_in_place(
    koppel_encrypting: Koppel,
):
    db = koppel_encrypting.db
    plain = rotate(db, load_settings(oidc_key_encryption_key=None), utcnow())
    db.commit()
    assert plain.private_jwk.startswith("{")
    lvs = Lvs(koppel_encrypting, koppel_encrypting.register())
    assert lvs.sign_in(koppel_encrypting.teacher)[1]["person_id"]

    assert encrypt_keys(db, get_settings()) == 1
    db.commit()

    assert stored(koppel_encrypting)[plain.kid].startswith("fernet1:")
    _token, claims = lvs.sign_in(koppel_encrypting.pupil)  # the JWKS decrypts it now
    assert claims["person_id"] == koppel_encrypting.pupil.id
    assert encrypt_keys(db, get_settings()) == 0  # nothing left to do


def test_a_replica_with_a_wrong_key_answers_one_clear_error(db, koppel_encrypting: Koppel, capsys):
    Lvs(koppel_encrypting, koppel_encrypting.register()).sign_in(koppel_encrypting.teacher)
    [kid] = stored(koppel_encrypting)

    with running_koppel(db, sessions_on(db), oidc_key_encryption_key=OLD) as replica:
        answer = replica.browser.get("/oidc/jwks")

    assert answer.status_code == 503  # koppel misconfigured, not the request wrong
    assert f"{VARIABLE} does not decrypt the OpenID Connect signing key {kid}" in answer.text
    assert "Traceback" not in answer.text
    out = capsys.readouterr()
    for secret in (OLD, NEW):
        assert secret not in answer.text + out.out + out.err


def test_the_cli_encrypts_plain_keys_and_lists_which_are(
    cli_db,
    monkeypatch,
):
    use_key(monkeypatch, None)
    assert koppel_cli("oidc", "keys", "rotate")[0] == 0
    assert "NOT encrypted" in koppel_cli("oidc", "keys", "list")[1]

    use_key(monkeypatch, NEW)
    code, out = koppel_cli("oidc", "keys", "encrypt")

    assert code == 0, out
    assert "1 signing key(s) encrypted now" in out and "NOT encrypted" not in out
    # A rotation makes an encrypted key and keeps the old one encrypted.
    code, out = koppel_cli("oidc", "keys", "rotate")
    assert code == 0 and out.count("  encrypted") == 2, out


def test_replacing_the_encryption_key_reencrypts_with_the_new_one(
    cli_db,
    monkeypatch,
):
    use_key(monkeypatch, OLD)
    koppel_cli("oidc", "keys", "rotate")

    use_key(monkeypatch, f"{NEW},{OLD}")  # the new first, the old still able to decrypt
    code, out = koppel_cli("oidc", "keys", "encrypt")
    assert code == 0 and "1 signing key(s) encrypted now" in out, out

    use_key(monkeypatch, NEW)  # the old key can go
    code, out = koppel_cli("oidc", "keys", "encrypt")
    assert code == 0 and "0 signing key(s) encrypted now" in out, out


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        (OLD, "does not decrypt the OpenID Connect signing key"),
        (None, "is not set: there is no key to encrypt with"),
        ("not-a-fernet-key", f"{VARIABLE}: key 1 is not a Fernet key"),
    ],
    # Named, not by the random key: pytest-xdist's processes must collect the same test ids.
    ids=["wrong-key", "no-key", "not-a-fernet-key"],
)
def test_a_wrong_or_missing_key_is_one_line_in_the_cli(
    cli_db,
    monkeypatch,
    setting,
    says,
):
    use_key(monkeypatch, NEW)
    koppel_cli("oidc", "keys", "rotate")
    use_key(monkeypatch, setting)

    code, out = koppel_cli("oidc", "keys", "encrypt")

    assert code == 1
    assert says in out and "Traceback" not in out
    for secret in (OLD, NEW, "not-a-fernet-key"):
        assert secret not in out


def test_a_running_koppel_on_the_cli_database_signs_with_the_encrypted_key(
    encrypting,
    koppel_on_cli_db: Koppel,
):
    lvs = Lvs(koppel_on_cli_db, koppel_on_cli_db.register())
    lvs.sign_in(koppel_on_cli_db.teacher)
    koppel_on_cli_db.db.rollback()  # SQLite: no open transaction while the CLI writes

    code, out = koppel_cli("oidc", "keys", "list")

    assert code == 0 and "  encrypted" in out and "NOT encrypted" not in out


def test_the_doctor_finds_a_key_it_cannot_decrypt(cli_db, monkeypatch):
    use_key(monkeypatch, NEW)
    koppel_cli("oidc", "keys", "rotate")
    ok = next(line for line in koppel_cli("doctor")[1].splitlines() if "sign-in keys" in line)
    assert ok.startswith("ok") and "1 id_token signing key(s), all encrypted" in ok

    use_key(monkeypatch, OLD)
    code, out = koppel_cli("doctor")

    [line] = [line for line in out.splitlines() if "sign-in keys" in line]
    assert code == 1 and line.startswith("problem")
    assert f"{VARIABLE} does not decrypt the OpenID Connect signing key" in line
    assert OLD not in out and NEW not in out
