"""The simulator's IdP, given koppel's SP metadata, checks each AuthnRequest as a strict IdP does:
a valid HTTP-Redirect signature by the registered key and a registered consumer, over real HTTP.
pysaml2, as an independent service provider, shows the check follows the binding, not koppel."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from saml2 import BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.xmldsig import SIG_RSA_SHA256

from core.saml.request import authn_request_url, new_request_id
from core.saml.signing import SpSigningKey, load_signing_key
from tests.sso.idp import XMLSEC, make_key_pair
from tests.sso.simulator import (
    choose_school,
    serve_koppel,
    sign_in_at_simulator,
    sync_simulator_school,
)

REFUSED = "Inlogverzoek geweigerd"


@pytest.fixture(scope="module")
def sp_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """koppel's key file (key and certificate, as KOPPEL_SSO_SIGNING_KEY wants it), another
    one, and koppel's certificate alone."""
    directory = tmp_path_factory.mktemp("sp")
    files = {}
    for name in ("koppel", "intruder"):
        key_file, cert_file = make_key_pair(directory, name)
        both = directory / f"{name}-both.pem"
        both.write_bytes(key_file.read_bytes() + cert_file.read_bytes())
        files[name], files[f"{name}-cert"] = both, cert_file
    return files


def sign_in_address(koppel) -> str:
    """Where koppel's /sso/basispoort/login sends the browser: the IdP with its AuthnRequest."""
    start = httpx.get(f"{koppel.url}/sso/basispoort/login", params={"relay_state": "x:1"})
    assert start.status_code == 303, start.text
    return start.headers["location"]


def with_query(address: str, query: dict[str, str]) -> str:
    return f"{address.split('?')[0]}?{urlencode(query)}"


def reason(page: httpx.Response) -> str:
    found = re.findall(r'<p id="reason">([^<]*)</p>', page.text)
    return found[0] if found else ""


def test_a_signed_request_is_verified_and_the_person_signs_in(
    db, sim_http_server, monkeypatch, sp_keys
):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins, sso_signing_key=sp_keys["koppel"]) as koppel:
        idp = sim_http_server.idp
        idp.service_providers.register_metadata(f"{koppel.url}/sso/basispoort/metadata")
        chooser = httpx.get(sign_in_address(koppel))
        assert chooser.status_code == 200, chooser.text
        assert "de handtekening is gecontroleerd" in html.unescape(chooser.text)
        page = choose_school(sim_http_server, chooser.text, synced.school)
        form = sign_in_at_simulator(sim_http_server, page, "Leerkracht")
        answer = httpx.post(f"{koppel.url}/sso/basispoort/acs", data=form)
    assert answer.status_code == 200, answer.text
    assert [who.person_kind for who, _ in koppel.signed_in] == ["staff"]
    assert idp.verdicts == {"signed": 1}


def test_unsigned_tampered_and_misdirected_requests_are_refused(
    db, sim_http_server, monkeypatch, sp_keys
):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins, sso_signing_key=sp_keys["koppel"]) as koppel:
        metadata = httpx.get(f"{koppel.url}/sso/basispoort/metadata").text
        assert 'AuthnRequestsSigned="true"' in metadata
        idp = sim_http_server.idp
        idp.service_providers.register_metadata(metadata.encode())
        address = sign_in_address(koppel)
        query = dict(parse_qsl(urlsplit(address).query))
        other = dict(parse_qsl(urlsplit(sign_in_address(koppel)).query))
        unsigned = {k: query[k] for k in ("SAMLRequest", "RelayState")}
        attempts = {
            "unsigned": with_query(address, unsigned),
            "relay state changed": with_query(address, {**query, "RelayState": "x:2"}),
            "another request": with_query(address, {**query, "SAMLRequest": other["SAMLRequest"]}),
            "rsa-sha1": with_query(
                address, {**query, "SigAlg": "http://www.w3.org/2000/09/xmldsig#rsa-sha1"}
            ),
        }
        answers = {what: httpx.get(url) for what, url in attempts.items()}
        assert httpx.get(address).status_code == 200  # the request as koppel sent it
        # The same request, but the metadata names another consumer than it asks for.
        idp.service_providers.clear()
        idp.service_providers.register_metadata(
            metadata.replace("/sso/basispoort/acs", "/elsewhere/acs").encode()
        )
        misdirected = httpx.get(address)

    assert {what: (a.status_code, reason(a)) for what, a in answers.items()} == {
        "unsigned": (403, "unsigned"),
        "relay state changed": (403, "signature_invalid"),
        "another request": (403, "signature_invalid"),
        "rsa-sha1": (400, "sigalg"),
    }
    assert (misdirected.status_code, reason(misdirected)) == (403, "wrong_acs")
    for answer in (*answers.values(), misdirected):
        assert REFUSED in answer.text and "SAMLResponse" not in answer.text
    assert idp.verdicts["signed"] == 1


def test_a_request_signed_by_another_key_is_refused(db, sim_http_server, monkeypatch, sp_keys):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    # The IdP knows koppel by its certificate alone; this koppel signs with another key.
    sim_http_server.idp.service_providers.register_certificate(sp_keys["koppel-cert"].read_bytes())
    with serve_koppel(db, synced.plugins, sso_signing_key=sp_keys["intruder"]) as intruder:
        refused = httpx.get(sign_in_address(intruder))
    with serve_koppel(db, synced.plugins, sso_signing_key=sp_keys["koppel"]) as koppel:
        accepted = httpx.get(sign_in_address(koppel))

    assert (refused.status_code, reason(refused)) == (403, "signature_invalid")
    assert accepted.status_code == 200, accepted.text


def test_unsigned_requests_pass_when_the_metadata_does_not_ask_for_signatures(
    db, sim_http_server, monkeypatch, sp_keys
):
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_SIGN_REQUESTS", "false")
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins, sso_signing_key=sp_keys["koppel"]) as koppel:
        sim_http_server.idp.service_providers.register_metadata(
            f"{koppel.url}/sso/basispoort/metadata"
        )
        chooser = httpx.get(sign_in_address(koppel))
        # The deep link's TARGET is checked against the registered consumer too.
        elsewhere = httpx.get(
            f"{sim_http_server.url}login/leerlingen/snelkoppelaar",
            params={
                "TARGET": f"{koppel.url}/elsewhere/acs",
                "INSTELLING_REF": synced.school.source_ref,
            },
        )
    assert chooser.status_code == 200
    assert "niet ondertekend; de SP-metadata staat dat toe" in html.unescape(chooser.text)
    assert sim_http_server.idp.verdicts == {"unsigned": 1}
    assert (elsewhere.status_code, reason(elsewhere)) == (403, "unknown_sp")


def test_without_sp_metadata_the_page_says_nothing_was_checked(db, sim_http_server, monkeypatch):
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins) as koppel:
        chooser = httpx.get(sign_in_address(koppel))
    assert chooser.status_code == 200
    assert "Niet gecontroleerd: deze simulator kent geen SP-metadata" in html.unescape(chooser.text)
    assert sim_http_server.idp.verdicts == {"unchecked": 1}


def pysaml2_sp(directory: Path, idp_metadata: str) -> Saml2Client:
    key_file, cert_file = make_key_pair(directory, "pysaml2-sp")
    config = SPConfig()
    config.load(
        {
            "entityid": "https://sp.pysaml2.example/metadata",
            "xmlsec_binary": XMLSEC,
            "key_file": str(key_file),
            "cert_file": str(cert_file),
            "metadata": {"inline": [idp_metadata]},
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [
                            (
                                "https://sp.pysaml2.example/acs",
                                "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                            )
                        ]
                    },
                    "authn_requests_signed": True,
                }
            },
        }
    )
    return Saml2Client(config)


def test_a_request_pysaml2_signs_is_verified_and_its_tampered_copy_refused(
    sim_http_server, tmp_path
):
    from saml2.metadata import create_metadata_string

    idp_metadata = httpx.get(f"{sim_http_server.url}idp/metadata").text
    sp = pysaml2_sp(tmp_path, idp_metadata)
    sim_http_server.idp.service_providers.register_metadata(
        create_metadata_string(None, config=sp.config)
    )
    _, info = sp.prepare_for_authenticate(
        binding=BINDING_HTTP_REDIRECT,
        relay_state="a b/c+d=é",  # characters URL encoding changes: the octets as received
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    address = dict(info["headers"])["Location"]
    query = dict(parse_qsl(urlsplit(address).query))

    accepted = httpx.get(address)
    tampered = httpx.get(with_query(address, {**query, "RelayState": "a b/c+d=e"}))

    assert accepted.status_code == 200, accepted.text
    assert (tampered.status_code, reason(tampered)) == (403, "signature_invalid")
    assert sim_http_server.idp.verdicts == {"signed": 1, "refused:signature_invalid": 1}


@pytest.mark.parametrize(("signer", "status"), [("simulator", 303), ("intruder-cert", 503)])
def test_koppel_checks_the_simulators_signed_metadata(
    db, sim_http_server, monkeypatch, tmp_path, sp_keys, signer, status
):
    """KOPPEL_BASISPOORT_SSO_METADATA_SIGNER: the certificate the simulator publishes for it
    lets koppel read the metadata; another certificate makes it refuse (sign-in 503)."""
    if signer == "simulator":
        certificate = tmp_path / "signer.pem"
        certificate.write_text(httpx.get(f"{sim_http_server.url}idp/signer.pem").text)
    else:
        certificate = sp_keys[signer]
    monkeypatch.setenv("KOPPEL_BASISPOORT_SSO_METADATA_SIGNER", str(certificate))
    synced = sync_simulator_school(db, sim_http_server, monkeypatch)
    with serve_koppel(db, synced.plugins) as koppel:
        start = httpx.get(f"{koppel.url}/sso/basispoort/login")
    assert start.status_code == status, start.text
    if status == 303:
        assert start.headers["location"].startswith(f"{sim_http_server.url}idp/sso?")


def test_basispoort_sim_registers_a_certificate_from_the_command_line(sp_keys):
    """`koppel basispoort-sim --sp-certificate`: its own process wants requests signed by it."""
    command = ["basispoort-sim", "--port", "0", "--sp-certificate", str(sp_keys["koppel-cert"])]
    sim = subprocess.Popen(
        [sys.executable, "-m", "cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = sim.stdout.readline().partition("listening on ")[2].strip()  # type: ignore[union-attr]
        assert url, "the simulator did not start"

        def request(signer: SpSigningKey | None) -> httpx.Response:
            return httpx.get(
                authn_request_url(
                    request_id=new_request_id(),
                    sso_url=f"{url}idp/sso",
                    sp_entity_id="https://koppel.test.example/sso/basispoort/metadata",
                    acs_url="https://koppel.test.example/sso/basispoort/acs",
                    relay_state="x:1",
                    signer=signer,
                )
            )

        unsigned, signed = request(None), request(load_signing_key(sp_keys["koppel"]))
        intruder = request(load_signing_key(sp_keys["intruder"]))
    finally:
        sim.terminate()
        sim.wait(10)
    assert (unsigned.status_code, reason(unsigned)) == (403, "unsigned")
    assert signed.status_code == 200 and "gecontroleerd" in signed.text
    assert (intruder.status_code, reason(intruder)) == (403, "signature_invalid")
