"""Metadata fetched from a URL: with a signer configured it must carry a valid signature by that
certificate (signed here by pysaml2, checked by koppel with signxml), and never be expired."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.responses import Response

from tests.live_server import serve
from tests.sso.idp import SSO_URL, TestIdp, make_key_pair

EVIL_SSO = "https://evil.example/sso"


class MetadataServer:
    """A real HTTP server publishing one metadata document, which a test may replace."""

    def __init__(self) -> None:
        self.document = b""
        self.app = FastAPI()
        self.app.get("/idp-metadata.xml")(
            lambda: Response(self.document, media_type="application/samlmetadata+xml")
        )


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[MetadataServer]:
    server = MetadataServer()
    with serve(server.app) as url:
        monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA", f"{url}/idp-metadata.xml")
        yield server


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The key and certificate a federation signs its metadata with."""
    return make_key_pair(tmp_path_factory.mktemp("federation"), "federation")


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch, federation: tuple[Path, Path]) -> Path:
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA_SIGNER", str(federation[1]))
    return federation[1]


def sign_in_goes_to(koppel) -> str | None:
    """Where /sso/basispoort/login sends the browser; None: the 'not possible now' page."""
    start = koppel.http.get("/sso/basispoort/login")
    if start.status_code == 503:
        assert "Inloggen tijdelijk niet mogelijk" in html.unescape(start.text)
        return None
    assert start.status_code == 303
    return start.headers["location"].split("?")[0]


def tomorrow() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def test_signed_metadata_is_accepted(db, make_koppel, idp, published, federation, trusting):
    published.document = idp.signed_metadata(federation, valid_until=tomorrow())

    assert sign_in_goes_to(make_koppel(configured=False)) == SSO_URL


def test_tampered_metadata_is_refused(db, make_koppel, idp, published, federation, trusting):
    signed = idp.signed_metadata(federation, valid_until=tomorrow())
    published.document = signed.replace(SSO_URL.encode(), EVIL_SSO.encode())

    assert sign_in_goes_to(make_koppel(configured=False)) is None


def test_metadata_signed_by_another_key_is_refused(
    db, make_koppel, idp, published, tmp_path, trusting
):
    published.document = idp.signed_metadata(make_key_pair(tmp_path, "someone"))

    assert sign_in_goes_to(make_koppel(configured=False)) is None


def test_unsigned_metadata_is_refused_when_a_signer_is_configured(
    db, make_koppel, idp, published, trusting
):
    published.document = idp.metadata_file.read_bytes()

    assert sign_in_goes_to(make_koppel(configured=False)) is None


@pytest.mark.parametrize("checked", [True, False])
def test_expired_metadata_is_refused(
    db, make_koppel, idp, published, federation, monkeypatch, checked
):
    if checked:  # validUntil counts whether or not a signer is configured
        monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA_SIGNER", str(federation[1]))
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    published.document = idp.signed_metadata(federation, valid_until=yesterday)

    assert sign_in_goes_to(make_koppel(configured=False)) is None


def test_a_bad_copy_later_keeps_the_last_good_metadata(
    db, make_koppel, idp, published, federation, trusting
):
    published.document = idp.signed_metadata(federation, valid_until=tomorrow())
    koppel = make_koppel(configured=False)
    assert sign_in_goes_to(koppel) == SSO_URL

    koppel.app.state.sso_metadata.seconds = 0  # read the metadata again at every sign-in
    published.document = published.document.replace(SSO_URL.encode(), EVIL_SSO.encode())

    assert sign_in_goes_to(koppel) == SSO_URL


def test_a_signer_file_without_a_certificate_says_so(
    db, make_koppel, idp, published, federation, tmp_path, monkeypatch
):
    (tmp_path / "signer.pem").write_text("not a certificate")
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA_SIGNER", str(tmp_path / "signer.pem"))
    published.document = idp.signed_metadata(federation, valid_until=tomorrow())

    assert sign_in_goes_to(make_koppel(configured=False)) is None


def test_pysaml2s_signed_metadata_is_what_the_tests_think(idp: TestIdp, federation):
    # The fixture's own check: the document is signed and names the provider's sign-in address.
    signed = idp.signed_metadata(federation, valid_until=tomorrow())
    assert b"SignatureValue" in signed and SSO_URL.encode() in signed and b"validUntil" in signed
