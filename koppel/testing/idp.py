"""The kit's SAML identity provider: its metadata, and signed answers to koppel's AuthnRequests."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import zlib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

from core.saml.metadata import REDIRECT
from core.saml.xml import NS, q

ENTITY_ID = "https://idp.kit.example/saml"
SSO_URL = "https://idp.kit.example/sso"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _instant(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def request_id(location: str) -> str:
    """The ID of the AuthnRequest in koppel's redirect to the identity provider."""
    encoded = parse_qs(urlsplit(location).query)["SAMLRequest"][0]
    xml = zlib.decompress(base64.b64decode(encoded), -15)
    return etree.fromstring(xml).get("ID") or ""


class KitIdp:
    """Signs (signxml, a fresh EC key) whatever it is told; its metadata is a file to point at."""

    def __init__(self, directory: Path) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "koppel.testing idp")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self._key, hashes.SHA256())
        )
        self.metadata_file = directory / f"kit-idp-{secrets.token_hex(4)}.xml"
        self.metadata_file.write_bytes(self._metadata())

    def _metadata(self) -> bytes:
        entity = etree.Element(q("md", "EntityDescriptor"), entityID=ENTITY_ID, nsmap=NS)
        idp = etree.SubElement(entity, q("md", "IDPSSODescriptor"))
        idp.set("protocolSupportEnumeration", NS["samlp"])
        key = etree.SubElement(idp, q("md", "KeyDescriptor"), use="signing")
        data = etree.SubElement(etree.SubElement(key, q("ds", "KeyInfo")), q("ds", "X509Data"))
        der = self._cert.public_bytes(serialization.Encoding.DER)
        etree.SubElement(data, q("ds", "X509Certificate")).text = base64.b64encode(der).decode()
        etree.SubElement(idp, q("md", "SingleSignOnService"), Binding=REDIRECT, Location=SSO_URL)
        return etree.tostring(entity, xml_declaration=True, encoding="UTF-8")

    def response(
        self,
        *,
        acs_url: str,
        audience: str,
        in_response_to: str | None,
        name_id: str,
        attributes: Mapping[str, tuple[str, ...]],
    ) -> str:
        """A samlp:Response whose one assertion is signed, base64 as the POST binding sends it;
        ``in_response_to`` None: a sign-in the identity provider starts (a deep link)."""
        now = dt.datetime.now(dt.UTC)
        until = _instant(now + dt.timedelta(minutes=5))
        response = etree.Element(q("samlp", "Response"), nsmap=NS, Version="2.0")
        response.attrib.update(
            {
                "ID": f"_{secrets.token_hex(16)}",
                "IssueInstant": _instant(now),
                "Destination": acs_url,
            }
        )
        answering = {"InResponseTo": in_response_to} if in_response_to else {}
        response.attrib.update(answering)
        etree.SubElement(response, q("saml", "Issuer")).text = ENTITY_ID
        status = etree.SubElement(response, q("samlp", "Status"))
        etree.SubElement(status, q("samlp", "StatusCode"), Value=SUCCESS)
        assertion_id = f"_{secrets.token_hex(16)}"
        assertion = etree.Element(q("saml", "Assertion"), nsmap=NS, ID=assertion_id, Version="2.0")
        assertion.set("IssueInstant", _instant(now))
        etree.SubElement(assertion, q("saml", "Issuer")).text = ENTITY_ID
        etree.SubElement(assertion, q("ds", "Signature"), Id="placeholder")  # signxml's place
        subject = etree.SubElement(assertion, q("saml", "Subject"))
        etree.SubElement(subject, q("saml", "NameID")).text = name_id
        confirmation = etree.SubElement(subject, q("saml", "SubjectConfirmation"), Method=BEARER)
        etree.SubElement(
            confirmation,
            q("saml", "SubjectConfirmationData"),
            Recipient=acs_url,
            NotOnOrAfter=until,
            **answering,
        )
        conditions = etree.SubElement(
            assertion, q("saml", "Conditions"), NotBefore=_instant(now), NotOnOrAfter=until
        )
        restriction = etree.SubElement(conditions, q("saml", "AudienceRestriction"))
        etree.SubElement(restriction, q("saml", "Audience")).text = audience
        etree.SubElement(assertion, q("saml", "AuthnStatement"), AuthnInstant=_instant(now))
        statement = etree.SubElement(assertion, q("saml", "AttributeStatement"))
        for name, values in attributes.items():
            attribute = etree.SubElement(statement, q("saml", "Attribute"), Name=name)
            for value in values:
                etree.SubElement(attribute, q("saml", "AttributeValue")).text = value
        key = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert = self._cert.public_bytes(serialization.Encoding.PEM).decode()
        signer = XMLSigner(
            signature_algorithm="ecdsa-sha256", digest_algorithm="sha256", c14n_algorithm=EXC_C14N
        )
        response.append(signer.sign(assertion, key=key, cert=cert, reference_uri=assertion_id))
        return base64.b64encode(etree.tostring(response)).decode()
