"""Replacing koppel's SAML signing key without a broken login: KOPPEL_SSO_NEXT_SIGNING_KEY puts
the next key's certificate in the SP metadata beside the current one, so an identity provider
that read the metadata before the switch still accepts requests signed after it."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner
from lxml import etree
from saml2.response import IncorrectlySigned

from cli.main import cli
from core.errors import ConfigError
from core.saml.signing import load_signing_key
from core.saml.xml import NS
from core.settings import get_settings
from tests.sso.full_login import start_sign_in
from tests.sso.idp import make_key_pair
from tests.sso.simulator import (
    choose_school,
    serve_koppel,
    sign_in_at_simulator,
    sync_simulator_school,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two key files (key and certificate in one PEM, as the settings want them): the key that
    signs now and the one that replaces it."""
    directory = tmp_path_factory.mktemp("rollover")
    return {name: key_file_valid_for(directory, name, 30) for name in ("old", "new")}


def published_certificates(metadata: str) -> list[str]:
    root = etree.fromstring(metadata.encode())
    path = "md:SPSSODescriptor/md:KeyDescriptor[@use='signing']//ds:X509Certificate/text()"
    return [text.strip() for text in root.xpath(path, namespaces=NS)]


def certificate(key_file: Path) -> str:
    return load_signing_key(key_file).certificate


def test_the_metadata_publishes_the_next_key_after_the_current_one_which_alone_signs(
    db, seed, make_koppel, idp, keys
):
    rolling = make_koppel(sso_signing_key=keys["old"], sso_next_signing_key=keys["new"])
    metadata = rolling.http.get("/sso/basispoort/metadata").text
    old_only = make_koppel(sso_signing_key=keys["old"]).http.get("/sso/basispoort/metadata").text
    new_only = make_koppel(sso_signing_key=keys["new"]).http.get("/sso/basispoort/metadata").text

    query = start_sign_in(rolling)

    assert published_certificates(metadata) == [certificate(keys["old"]), certificate(keys["new"])]
    assert 'AuthnRequestsSigned="true"' in metadata
    assert idp.read_signed_authn_request(query, old_only).id  # pysaml2 checks the signature
    with pytest.raises(IncorrectlySigned):
        idp.read_signed_authn_request(query, new_only)


def test_an_identity_provider_given_the_rollover_metadata_accepts_either_key(
    db, seed, make_koppel, idp, keys
):
    """pysaml2 as an independent identity provider: the request signed after the switch
    verifies against the metadata it read before."""
    rolling = make_koppel(sso_signing_key=keys["old"], sso_next_signing_key=keys["new"])
    registered = rolling.http.get("/sso/basispoort/metadata").text
    switched = make_koppel(sso_signing_key=keys["new"])

    assert idp.read_signed_authn_request(start_sign_in(rolling), registered).id
    assert idp.read_signed_authn_request(start_sign_in(switched), registered).id


def sign_in_address(koppel) -> str:
    start = httpx.get(f"{koppel.url}/sso/basispoort/login", params={"relay_state": "x:1"})
    assert start.status_code == 303, start.text
    return start.headers["location"]


def test_the_simulator_registered_before_the_switch_lets_people_sign_in_after_it(
    db, sim_http_server, monkeypatch, keys
):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    registry = sim_http_server.idp.service_providers
    # The identity provider reads koppel's metadata once, during the rollover, and not again.
    with serve_koppel(
        db, synced.plugins, sso_signing_key=keys["old"], sso_next_signing_key=keys["new"]
    ) as rolling:
        registry.register_metadata(httpx.get(f"{rolling.url}/sso/basispoort/metadata").content)
        before = httpx.get(sign_in_address(rolling))
    # The operator swaps the files and restarts koppel: the next key now signs, nothing is next.
    port = urlsplit(rolling.url).port
    with serve_koppel(db, synced.plugins, port, sso_signing_key=keys["new"]) as switched:
        chooser = httpx.get(sign_in_address(switched))
        page = choose_school(sim_http_server, chooser.text, synced.school)
        form = sign_in_at_simulator(sim_http_server, page, "Leerkracht")
        answer = httpx.post(f"{switched.url}/sso/basispoort/acs", data=form)
        # Without the rollover: an IdP that knows only the old certificate refuses the new key.
        registry.clear()
        registry.register_certificate(keys["old"].read_bytes())
        unannounced = httpx.get(sign_in_address(switched))

    assert before.status_code == 200, before.text
    assert chooser.status_code == 200, chooser.text
    assert "de handtekening is gecontroleerd" in html.unescape(chooser.text)
    assert answer.status_code == 200, answer.text
    assert [who.person_kind for who, _ in switched.signed_in] == ["staff"]
    assert unannounced.status_code == 403
    assert sim_http_server.idp.verdicts == {"signed": 2, "refused:signature_invalid": 1}


def test_a_next_key_without_a_current_key_is_refused(db, make_koppel, keys):
    with pytest.raises(ConfigError, match="KOPPEL_SSO_NEXT_SIGNING_KEY is set but") as raised:
        make_koppel(sso_next_signing_key=keys["new"])
    assert "set KOPPEL_SSO_SIGNING_KEY" in str(raised.value)


def test_a_next_key_equal_to_the_current_one_is_refused(db, make_koppel, keys, tmp_path):
    copy = tmp_path / "copy.pem"
    copy.write_bytes(keys["old"].read_bytes())

    with pytest.raises(ConfigError, match="holds the same key as KOPPEL_SSO_SIGNING_KEY") as raised:
        make_koppel(sso_signing_key=keys["old"], sso_next_signing_key=copy)
    assert "make a new key for KOPPEL_SSO_NEXT_SIGNING_KEY" in str(raised.value)


def test_a_broken_next_key_file_stops_koppel_with_one_line_naming_its_setting(
    db, make_koppel, keys, tmp_path
):
    certificate_only = tmp_path / "cert-only.pem"
    _, cert_file = make_key_pair(tmp_path, "cert-only")
    certificate_only.write_bytes(cert_file.read_bytes())

    with pytest.raises(ConfigError) as raised:
        make_koppel(sso_signing_key=keys["old"], sso_next_signing_key=certificate_only)

    assert str(raised.value).startswith(
        f"KOPPEL_SSO_NEXT_SIGNING_KEY ({certificate_only}) holds no unencrypted PEM private key"
    )


def test_the_doctor_names_the_next_key(cli_db, monkeypatch, keys):
    monkeypatch.setenv("KOPPEL_SSO_SIGNING_KEY", str(keys["old"]))
    monkeypatch.setenv("KOPPEL_SSO_NEXT_SIGNING_KEY", str(keys["new"]))
    get_settings.cache_clear()

    out = CliRunner().invoke(cli, ["doctor"]).output

    [line] = [line for line in out.splitlines() if "sign-in keys" in line]
    assert line.startswith("ok"), line
    assert f"AuthnRequests signed with {keys['old']}" in line
    assert f"next key {keys['new']} published beside it" in line


def key_file_valid_for(directory: Path, name: str, days: int) -> Path:
    """A signing key file whose certificate ends ``days`` from now (negative: has ended)."""
    key_file, cert_file = make_key_pair(directory, name, days)
    both = directory / f"{name}-both.pem"
    both.write_bytes(key_file.read_bytes() + cert_file.read_bytes())
    return both


def doctor_keys_line(monkeypatch: pytest.MonkeyPatch, current: Path, next_key: Path | None) -> str:
    monkeypatch.setenv("KOPPEL_SSO_SIGNING_KEY", str(current))
    if next_key is not None:
        monkeypatch.setenv("KOPPEL_SSO_NEXT_SIGNING_KEY", str(next_key))
    get_settings.cache_clear()
    out = CliRunner().invoke(cli, ["doctor"]).output
    [line] = [line for line in out.splitlines() if "sign-in keys" in line]
    return line


def test_the_doctor_says_when_the_signing_certificate_ends_and_warns_a_month_ahead(
    cli_db, monkeypatch, tmp_path
):
    lasting = key_file_valid_for(tmp_path, "lasting", 400)
    line = doctor_keys_line(monkeypatch, lasting, None)
    ends = datetime.now(UTC) + timedelta(days=400)
    days = {f"{ends + timedelta(days=d):%Y-%m-%d}" for d in (-1, 0)}  # midnight may pass
    assert line.startswith("ok") and any(f"valid until {day}" in line for day in days), line

    soon = key_file_valid_for(tmp_path, "soon", 10)
    line = doctor_keys_line(monkeypatch, soon, None)
    assert line.startswith("ok"), line
    assert "expires on" in line and ("in 9 days" in line or "in 10 days" in line), line
    assert "publish the next key now, KOPPEL_SSO_NEXT_SIGNING_KEY" in line


@pytest.mark.parametrize("which", ["current", "next"])
def test_the_doctor_reports_an_ended_signing_certificate_as_a_problem(
    cli_db, monkeypatch, keys, tmp_path, which
):
    ended = key_file_valid_for(tmp_path, "ended", -1)
    current, next_key = (ended, None) if which == "current" else (keys["old"], ended)
    line = doctor_keys_line(monkeypatch, current, next_key)
    setting = "KOPPEL_SSO_SIGNING_KEY" if which == "current" else "KOPPEL_SSO_NEXT_SIGNING_KEY"
    assert not line.startswith("ok"), line
    assert f"the certificate in {setting} expired on" in line, line
