"""'koppel oidc clients' and 'koppel oidc keys': the printed secret works once, only its hash
is stored, a removed client is refused, rotation is one command."""

from __future__ import annotations

import re

import pytest
from authlib.integrations.base_client import OAuthError
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.main import cli
from core.db import make_engine
from core.models import OidcClient, OidcSigningKey
from tests.oidc.conftest import REDIRECT, Koppel, Lvs, Registered


def koppel(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_client_added_with_the_cli_signs_a_teacher_in(koppel_on_cli_db: Koppel):
    out = koppel(
        "oidc", "clients", "add", "lvs-prod", "--redirect-uri", REDIRECT,
        "--redirect-uri", "https://lvs.test/other",
    )  # fmt: skip

    client_id = re.search(r"client_id:\s+(\S+)", out)[1]  # type: ignore[index]
    secret = re.search(r"client_secret:\s+(\S+)", out)[1]  # type: ignore[index]
    lvs = Lvs(koppel_on_cli_db, Registered("lvs-prod", client_id, secret))
    assert lvs.sign_in(koppel_on_cli_db.teacher)[1]["person_id"] == koppel_on_cli_db.teacher.id
    db = koppel_on_cli_db.db
    stored = db.scalars(select(OidcClient)).one()
    assert secret not in (stored.secret_hash, stored.secret_salt)
    assert stored.redirect_uris == [REDIRECT, "https://lvs.test/other"]
    db.rollback()  # SQLite: an open transaction here holds the write lock (BEGIN IMMEDIATE)
    listed = koppel("oidc", "clients", "list")
    assert client_id in listed and REDIRECT in listed and secret not in listed


def test_a_removed_client_gets_no_more_tokens(koppel_on_cli_db: Koppel):
    out = koppel("oidc", "clients", "add", "lvs-old", "--redirect-uri", REDIRECT)
    client_id = re.search(r"client_id:\s+(\S+)", out)[1]  # type: ignore[index]
    secret = re.search(r"client_secret:\s+(\S+)", out)[1]  # type: ignore[index]
    lvs = Lvs(koppel_on_cli_db, Registered("lvs-old", client_id, secret))
    login = lvs.start()
    callback = koppel_on_cli_db.sign_in(login.url, koppel_on_cli_db.teacher).headers["location"]

    assert "removed" in koppel("oidc", "clients", "remove", "lvs-old")

    with pytest.raises(OAuthError):
        lvs.exchange(callback, login)
    assert "no clients" in koppel("oidc", "clients", "list")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["bad name!", "--redirect-uri", REDIRECT], "is not a client name"),
        (["lvs", "--redirect-uri", "http://lvs.example.nl/cb"], "https://"),
        (["lvs", "--redirect-uri", f"{REDIRECT}#frag"], "without '#'"),
        (["lvs"], "Missing option '--redirect-uri'"),
    ],
)
def test_a_bad_registration_is_one_clear_line(cli_db, args, says):
    result = CliRunner().invoke(cli, ["oidc", "clients", "add", *args])

    assert result.exit_code != 0
    assert says in result.output
    assert "Traceback" not in result.output


def test_a_name_is_registered_once_and_removing_an_unknown_one_says_so(cli_db):
    koppel("oidc", "clients", "add", "lvs", "--redirect-uri", REDIRECT)

    twice = CliRunner().invoke(cli, ["oidc", "clients", "add", "lvs", "--redirect-uri", REDIRECT])
    unknown = CliRunner().invoke(cli, ["oidc", "clients", "remove", "nope"])

    assert twice.exit_code == 1 and "exists already" in twice.output
    assert unknown.exit_code == 1 and "there is no client named 'nope'" in unknown.output


def test_keys_rotate_adds_a_signing_key_and_retires_the_old(cli_db):
    first = koppel("oidc", "keys", "rotate")
    second = koppel("oidc", "keys", "rotate")

    engine = make_engine(cli_db)
    with Session(engine) as db:
        keys = db.scalars(select(OidcSigningKey).order_by(OidcSigningKey.id)).all()
    engine.dispose()
    assert len(keys) == 2
    assert keys[0].retired_at is not None and keys[1].retired_at is None
    assert f"key {keys[1].kid} signs from now on" in second and keys[0].kid in first
    assert "retired" in koppel("oidc", "keys", "list")
