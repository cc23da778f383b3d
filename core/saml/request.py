"""An AuthnRequest for the HTTP-Redirect binding: the address that sends a browser to sign in."""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from lxml import etree

from core.saml.metadata import POST
from core.saml.signing import RSA_SHA256, SpSigningKey
from core.saml.xml import NS, q


def new_request_id() -> str:
    # An xs:ID must not start with a digit; 160 random bits cannot be guessed.
    return "_" + secrets.token_hex(20)


def authn_request_url(
    *,
    request_id: str,
    sso_url: str,
    sp_entity_id: str,
    acs_url: str,
    relay_state: str,
    signer: SpSigningKey | None = None,
    now: datetime | None = None,
) -> str:
    """The identity provider's sign-in address carrying the AuthnRequest, signed by ``signer``
    as the HTTP-Redirect binding signs (SAML bindings 3.4.4.1), or unsigned without one."""
    request = etree.Element(
        q("samlp", "AuthnRequest"),
        nsmap={"samlp": NS["samlp"], "saml": NS["saml"]},
        ID=request_id,
        Version="2.0",
        IssueInstant=(now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        Destination=sso_url,
        AssertionConsumerServiceURL=acs_url,
        ProtocolBinding=POST,
    )
    etree.SubElement(request, q("saml", "Issuer")).text = sp_entity_id
    etree.SubElement(request, q("samlp", "NameIDPolicy"), AllowCreate="true")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE, as the binding says
    xml = etree.tostring(request)
    encoded = base64.b64encode(deflater.compress(xml) + deflater.flush()).decode()
    query = {"SAMLRequest": encoded}
    if relay_state:
        query["RelayState"] = relay_state
    encoded_query = urlencode(query)
    if signer is not None:
        # The signature covers the query exactly as sent: SAMLRequest, RelayState, SigAlg, in
        # that order, URL-encoded; the Signature parameter is appended after it.
        encoded_query += "&" + urlencode({"SigAlg": RSA_SHA256})
        encoded_query += "&" + urlencode({"Signature": signer.sign(encoded_query.encode())})
    separator = "&" if urlsplit(sso_url).query else "?"
    return f"{sso_url}{separator}{encoded_query}"
