"""The tests' SAML identity provider: pysaml2 (an implementation independent of koppel's signxml).

It signs real assertions with xmlsec1 and an RSA test key, serves its metadata as a file, and
reads koppel's AuthnRequests with pysaml2's own parser. Every field of a response can be set
wrong on purpose, so each check koppel makes has a response that fails only that check.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_REDIRECT, saml, samlp
from saml2.config import Config, IdPConfig
from saml2.metadata import create_metadata_string, entity_descriptor, sign_entity_descriptor
from saml2.s_utils import factory
from saml2.server import Server
from saml2.sigver import pre_signature_part, security_context
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC = "/usr/bin/xmlsec1"
ENTITY_ID = "https://idp.test.example/saml"
SSO_URL = "https://idp.test.example/sso"


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_key_pair(directory: Path, name: str = "idp", days: int = 30) -> tuple[Path, Path]:
    """An RSA key and a self-signed certificate for it, as PEM files; the certificate ends
    ``days`` from now (negative: has ended)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test {name}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=max(1, -days + 1)))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / f"{name}-key.pem", directory / f"{name}.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


@dataclass
class Assertion:
    """What one response says; each field may be set wrong on purpose."""

    acs_url: str
    audience: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    name_id: str = "nobody"
    issuer: str = ENTITY_ID
    response_issuer: str | None = ENTITY_ID
    destination: str | None = None  # default: acs_url
    recipient: str | None = None  # default: acs_url
    in_response_to: str | None = None
    not_before: dt.timedelta = dt.timedelta(minutes=-1)  # relative to now
    not_on_or_after: dt.timedelta = dt.timedelta(minutes=5)
    assertion_id: str = field(default_factory=lambda: "_a" + secrets.token_hex(16))
    sign: str = "assertion"  # "assertion", "response", "both" or "none"


class TestIdp:
    """A pysaml2 identity provider with its own key; ``metadata_file`` is what koppel reads."""

    __test__ = False  # not a test class

    def __init__(self, directory: Path, entity_id: str = ENTITY_ID) -> None:
        self.entity_id = entity_id
        key_file, cert_file = make_key_pair(directory, secrets.token_hex(4))
        self.key_file, self.cert_file = key_file, cert_file
        self.config = self._config(want_signed=False)
        self.security = security_context(self.config)
        self.metadata_file = directory / f"idp-metadata-{secrets.token_hex(4)}.xml"
        self.metadata_file.write_bytes(create_metadata_string(None, config=self.config))

    def _config(self, want_signed: bool, sp_metadata: str | None = None) -> IdPConfig:
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "xmlsec_binary": XMLSEC,
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(SSO_URL, BINDING_HTTP_REDIRECT)]},
                        "want_authn_requests_signed": want_signed,
                    }
                },
                **({"metadata": {"inline": [sp_metadata]}} if sp_metadata else {}),
            }
        )
        return config

    def response_xml(self, spec: Assertion, tamper: Callable[[str], str] | None = None) -> str:
        """The signed samlp:Response for ``spec``; ``tamper`` edits the signed XML text."""
        now = dt.datetime.now(dt.UTC)
        assertion = saml.Assertion(
            id=spec.assertion_id,
            version="2.0",
            issue_instant=_instant(now),
            issuer=saml.Issuer(text=spec.issuer, format=saml.NAMEID_FORMAT_ENTITY),
            subject=saml.Subject(
                name_id=saml.NameID(text=spec.name_id, format=saml.NAMEID_FORMAT_PERSISTENT),
                subject_confirmation=[
                    saml.SubjectConfirmation(
                        method=saml.SCM_BEARER,
                        subject_confirmation_data=saml.SubjectConfirmationData(
                            recipient=spec.recipient or spec.acs_url,
                            not_on_or_after=_instant(now + spec.not_on_or_after),
                            in_response_to=spec.in_response_to,
                        ),
                    )
                ],
            ),
            conditions=saml.Conditions(
                not_before=_instant(now + spec.not_before),
                not_on_or_after=_instant(now + spec.not_on_or_after),
                audience_restriction=[
                    saml.AudienceRestriction(audience=[saml.Audience(text=spec.audience)])
                ],
            ),
            authn_statement=[
                saml.AuthnStatement(
                    authn_instant=_instant(now),
                    authn_context=saml.AuthnContext(
                        authn_context_class_ref=saml.AuthnContextClassRef(
                            text=saml.AUTHN_PASSWORD_PROTECTED
                        )
                    ),
                )
            ],
            attribute_statement=[
                saml.AttributeStatement(
                    attribute=[
                        factory(
                            saml.Attribute,
                            name=name,
                            name_format=saml.NAME_FORMAT_BASIC,
                            attribute_value=[factory(saml.AttributeValue, text=value)],
                        )
                        for name, value in spec.attributes.items()
                    ]
                )
            ],
        )
        response_id = "_r" + secrets.token_hex(16)
        response = samlp.Response(
            id=response_id,
            version="2.0",
            issue_instant=_instant(now),
            destination=spec.destination or spec.acs_url,
            in_response_to=spec.in_response_to,
            issuer=(
                saml.Issuer(text=spec.response_issuer, format=saml.NAMEID_FORMAT_ENTITY)
                if spec.response_issuer
                else None
            ),
            status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
            assertion=assertion,
        )
        if spec.sign in ("assertion", "both"):
            assertion.signature = self._signature_template(spec.assertion_id)
        if spec.sign in ("response", "both"):
            response.signature = self._signature_template(response_id)
        xml = str(response)
        if spec.sign in ("assertion", "both"):
            xml = self.security.sign_statement(
                xml, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", node_id=spec.assertion_id
            )
        if spec.sign in ("response", "both"):
            xml = self.security.sign_statement(
                xml, "urn:oasis:names:tc:SAML:2.0:protocol:Response", node_id=response_id
            )
        return tamper(xml) if tamper else xml

    def _signature_template(self, ident: str) -> Any:
        return pre_signature_part(
            ident, self.security.my_cert, 1, digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256
        )

    def form(self, xml: str, relay_state: str = "") -> dict[str, str]:
        """The HTTP-POST binding's form fields for a response."""
        fields = {"SAMLResponse": base64.b64encode(xml.encode()).decode()}
        if relay_state:
            fields["RelayState"] = relay_state
        return fields

    def read_authn_request(self, saml_request: str) -> Any:
        """koppel's AuthnRequest (from the redirect's SAMLRequest), parsed by pysaml2's server."""
        server = Server(config=self.config)
        return server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message

    def read_signed_authn_request(self, query: Mapping[str, str], sp_metadata: str) -> Any:
        """koppel's AuthnRequest from its redirect's query, the query's signature checked by
        pysaml2 against the certificate in koppel's SP metadata (IncorrectlySigned if not)."""
        server = Server(config=self._config(want_signed=True, sp_metadata=sp_metadata))
        return server.parse_authn_request(
            query["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        ).message

    def signed_metadata(
        self, signer: tuple[Path, Path], valid_until: dt.datetime | None = None
    ) -> bytes:
        """This provider's metadata as a federation publishes it: with a validUntil, signed
        (pysaml2 and xmlsec1, enveloped) by ``signer``'s key (a key file and its certificate)."""
        descriptor = entity_descriptor(self.config)
        if valid_until is not None:
            descriptor.valid_until = _instant(valid_until)
        federation = Config()
        federation.key_file, federation.cert_file = (str(path) for path in signer)
        federation.xmlsec_binary = XMLSEC
        _, xml = sign_entity_descriptor(
            descriptor, None, security_context(federation), SIG_RSA_SHA256, DIGEST_SHA256
        )
        return xml.encode() if isinstance(xml, str) else bytes(xml)
