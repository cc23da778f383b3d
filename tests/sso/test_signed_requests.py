"""Signed AuthnRequests: koppel signs the HTTP-Redirect query with its own key, publishes the
certificate in its SP metadata, and pysaml2 (as the identity provider) checks the signature."""

from __future__ import annotations

from pathlib import Path

import pytest
from saml2.response import IncorrectlySigned

from core.errors import ConfigError
from core.saml.signing import RSA_SHA256
from tests.sso.conftest import SP_ENTITY
from tests.sso.full_login import start_sign_in
from tests.sso.idp import make_key_pair


@pytest.fixture(scope="module")
def sp_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """koppel's key and certificate in one PEM file, as KOPPEL_SSO_SIGNING_KEY wants it."""
    directory = tmp_path_factory.mktemp("sp")
    key_file, cert_file = make_key_pair(directory, "sp")
    both = directory / "sp.pem"
    both.write_bytes(key_file.read_bytes() + cert_file.read_bytes())
    return both


def test_the_identity_provider_verifies_koppels_signed_request(db, seed, make_koppel, idp, sp_key):
    koppel = make_koppel(sso_signing_key=sp_key)
    metadata = koppel.http.get("/sso/basispoort/metadata").text
    assert 'AuthnRequestsSigned="true"' in metadata and 'use="signing"' in metadata

    query = start_sign_in(koppel)

    assert list(query) == ["SAMLRequest", "RelayState", "SigAlg", "Signature"]
    assert query["SigAlg"] == RSA_SHA256
    request = idp.read_signed_authn_request(query, metadata)  # pysaml2 checks the signature
    assert request.issuer.text == SP_ENTITY
    assert request.assertion_consumer_service_url.endswith("/sso/basispoort/acs")


@pytest.mark.parametrize("field", ["RelayState", "SAMLRequest"])
def test_a_tampered_query_fails_the_identity_providers_check(
    db, seed, make_koppel, idp, sp_key, field
):
    koppel = make_koppel(sso_signing_key=sp_key)
    metadata = koppel.http.get("/sso/basispoort/metadata").text
    query = start_sign_in(koppel)
    other = start_sign_in(koppel, relay_state="oidc:other")
    tampered = {**query, field: other[field]}  # a valid value, signed for another request

    with pytest.raises(IncorrectlySigned):
        idp.read_signed_authn_request(tampered, metadata)


def test_a_request_signed_by_another_key_fails(db, seed, make_koppel, idp, sp_key, tmp_path):
    key_file, cert_file = make_key_pair(tmp_path, "intruder")
    intruder = tmp_path / "intruder.pem"
    intruder.write_bytes(key_file.read_bytes() + cert_file.read_bytes())
    published = make_koppel(sso_signing_key=sp_key).http.get("/sso/basispoort/metadata").text

    query = start_sign_in(make_koppel(sso_signing_key=intruder))

    with pytest.raises(IncorrectlySigned):
        idp.read_signed_authn_request(query, published)


def test_an_identity_provider_may_ask_for_unsigned_requests(
    db, seed, make_koppel, idp, sp_key, monkeypatch
):
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_SIGN_REQUESTS", "false")
    koppel = make_koppel(sso_signing_key=sp_key)

    query = start_sign_in(koppel)
    metadata = koppel.http.get("/sso/basispoort/metadata").text

    assert set(query) == {"SAMLRequest", "RelayState"}
    assert idp.read_authn_request(query["SAMLRequest"]).issuer.text == SP_ENTITY
    assert 'AuthnRequestsSigned="false"' in metadata and "X509Certificate" not in metadata
    # Entree keeps its own setting: its requests are still signed.
    assert "Signature" in start_sign_in(koppel, idp="entree")
    assert 'AuthnRequestsSigned="true"' in koppel.http.get("/sso/entree/metadata").text


def test_without_a_signing_key_requests_go_unsigned_as_before(db, seed, koppel, idp):
    query = start_sign_in(koppel)
    assert set(query) == {"SAMLRequest", "RelayState"}
    assert 'AuthnRequestsSigned="false"' in koppel.http.get("/sso/basispoort/metadata").text


@pytest.mark.parametrize(
    ("parts", "says"),
    [
        (["cert"], "holds no unencrypted PEM private key"),
        (["key"], "holds no certificate"),
        (["key", "other-cert"], "the certificate is not the private key's"),
        ([], "cannot be read"),
    ],
)
def test_a_bad_signing_key_file_stops_koppel_with_one_clear_line(
    db, make_koppel, tmp_path, parts, says
):
    key_file, cert_file = make_key_pair(tmp_path, "a")
    _, other_cert = make_key_pair(tmp_path, "b")
    files = {"key": key_file, "cert": cert_file, "other-cert": other_cert}
    pem = tmp_path / "sp.pem"
    if parts:
        pem.write_bytes(b"".join(files[p].read_bytes() for p in parts))

    with pytest.raises(ConfigError, match="KOPPEL_SSO_SIGNING_KEY") as raised:
        make_koppel(sso_signing_key=pem)

    assert says in str(raised.value)
    assert "PRIVATE KEY" not in str(raised.value)


def test_the_signature_covers_the_query_exactly_as_sent(db, seed, make_koppel, idp, sp_key):
    # A relay state with characters URL encoding changes: the IdP must see the same octets.
    koppel = make_koppel(sso_signing_key=sp_key)
    metadata = koppel.http.get("/sso/basispoort/metadata").text
    query = start_sign_in(koppel, relay_state="oidc:a b/c+d=é")

    assert query["RelayState"] == "oidc:a b/c+d=é"
    assert idp.read_signed_authn_request(query, metadata).id
