"""Check a SAML Response the way a service provider must, and read only what the signature covers.

Signatures are checked by signxml against the identity provider's certificates from its
metadata; every later check and every value read comes from the XML signxml returns as signed,
never from the posted document (signature wrapping). Nothing here touches the database: the
caller checks InResponseTo and records the assertion id (core.saml.state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature

from core.saml.method import Asserted
from core.saml.refusals import Refusal, SamlRefused
from core.saml.xml import NS, parse_untrusted, q

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"


@dataclass(frozen=True, slots=True)
class Expected:
    """What a response must say to be for us, from whom, and when."""

    idp: str  # the login method's name
    idp_entity_id: str
    certificates: tuple[str, ...]  # PEM, from the identity provider's metadata
    sp_entity_id: str
    acs_url: str
    now: datetime
    skew: timedelta


@dataclass(frozen=True, slots=True)
class VerifiedResponse:
    """A response that passed every check that needs no database."""

    assertion_id: str
    in_response_to: str | None
    expires_at: datetime  # until when its id must be remembered (replay)
    asserted: Asserted


def verify_response(data: bytes, expected: Expected) -> VerifiedResponse:
    """The verified assertion of a Response, or SamlRefused naming the first failed check."""
    root = parse_untrusted(data)
    if root.tag != q("samlp", "Response"):
        raise SamlRefused(Refusal.MALFORMED, "not a samlp:Response")
    if root.find(".//saml:EncryptedAssertion", NS) is not None:
        raise SamlRefused(Refusal.MALFORMED, "encrypted assertions are not supported")
    # Exactly one assertion, a child of the Response: a second one anywhere is how a wrapping
    # attack hides the signed original next to the one it wants read.
    assertions = root.findall(".//saml:Assertion", NS)
    if len(assertions) != 1 or assertions[0].getparent() is not root:
        raise SamlRefused(Refusal.SIGNATURE_WRAPPING, f"{len(assertions)} assertions")
    posted = assertions[0]
    # Comments do not count for the signature (exclusive c14n drops them), so a signed NameID
    # "a@b.nl.evil" can be posted as "a@b.nl<!---->.evil": refuse any, rather than guess.
    if any(True for _ in posted.iter(etree.Comment)):
        raise SamlRefused(Refusal.COMMENT_IN_ASSERTION)
    status = root.find("samlp:Status/samlp:StatusCode", NS)
    if status is None or status.get("Value") != SUCCESS:
        raise SamlRefused(Refusal.IDP_FAILED, status.get("Value", "") if status is not None else "")
    assertion = _signed_assertion(data, root, posted, expected)
    return _checked(root, assertion, expected)


def _signed_assertion(
    data: bytes, root: etree._Element, posted: etree._Element, expected: Expected
) -> etree._Element:
    """The assertion as signed: by its own signature, else by the Response's."""
    response_signed = root.find("ds:Signature", NS) is not None
    assertion_signed = posted.find("ds:Signature", NS) is not None
    if not (response_signed or assertion_signed):
        raise SamlRefused(Refusal.UNSIGNED)
    signed_assertion = None
    if response_signed:
        response = _verify(data, "./", root, expected)
        inner = response.findall("saml:Assertion", NS)
        if len(inner) != 1:
            raise SamlRefused(Refusal.SIGNATURE_WRAPPING, "the signed response holds no assertion")
        signed_assertion = inner[0]
    if assertion_signed:
        location = f"./{q('saml', 'Assertion')}/"
        signed_assertion = _verify(data, location, posted, expected)
    assert signed_assertion is not None
    return signed_assertion


def _verify(
    data: bytes, location: str, element: etree._Element, expected: Expected
) -> etree._Element:
    """The element as its signature covers it (signxml), trying each certificate.

    signxml gets the posted bytes, the document checked above: given a parsed element, it
    would serialise it and parse it again.
    """
    # SHA-1 stays refused (signxml's default); one reference: the element carrying it.
    config = SignatureConfiguration(location=location, expect_references=1)
    failure = "no certificate"
    for certificate in expected.certificates:
        try:
            result = XMLVerifier().verify(data, x509_cert=certificate, expect_config=config)
        except (InvalidSignature, InvalidInput) as exc:
            failure = type(exc).__name__
            continue
        signed = result.signed_xml  # type: ignore[union-attr]
        # The signature must cover the element that carries it, not some other element by id.
        if signed is None or signed.tag != element.tag or signed.get("ID") != element.get("ID"):
            raise SamlRefused(Refusal.SIGNATURE_WRAPPING, "the signature covers another element")
        return signed
    raise SamlRefused(Refusal.SIGNATURE_INVALID, failure)


def _checked(
    root: etree._Element, assertion: etree._Element, expected: Expected
) -> VerifiedResponse:
    issuers = [assertion.findtext("saml:Issuer", namespaces=NS)]
    if root.find("saml:Issuer", NS) is not None:
        issuers.append(root.findtext("saml:Issuer", namespaces=NS))
    if any((i or "").strip() != expected.idp_entity_id for i in issuers):
        raise SamlRefused(Refusal.WRONG_ISSUER)
    destination = root.get("Destination")
    if destination is not None and destination != expected.acs_url:
        raise SamlRefused(Refusal.WRONG_RECIPIENT, "Destination")

    confirmation = _bearer_confirmation(assertion)
    if confirmation.get("Recipient") != expected.acs_url:
        raise SamlRefused(Refusal.WRONG_RECIPIENT, "Recipient")
    conditions = assertion.find("saml:Conditions", NS)
    audiences = {
        (a.text or "").strip()
        for a in assertion.findall("saml:Conditions/saml:AudienceRestriction/saml:Audience", NS)
    }
    if conditions is None or expected.sp_entity_id not in audiences:
        raise SamlRefused(Refusal.WRONG_AUDIENCE)

    ends = [_time(confirmation, "NotOnOrAfter"), _time(conditions, "NotOnOrAfter")]
    starts = [_time(confirmation, "NotBefore"), _time(conditions, "NotBefore")]
    if ends[0] is None:
        raise SamlRefused(Refusal.EXPIRED, "no NotOnOrAfter on the bearer confirmation")
    if any(s is not None and expected.now + expected.skew < s for s in starts):
        raise SamlRefused(Refusal.NOT_YET_VALID)
    if any(e is not None and e <= expected.now - expected.skew for e in ends):
        raise SamlRefused(Refusal.EXPIRED)

    in_response_to = {v for v in (root.get("InResponseTo"), confirmation.get("InResponseTo")) if v}
    if len(in_response_to) > 1:
        raise SamlRefused(Refusal.UNKNOWN_REQUEST, "two different InResponseTo")
    assertion_id = assertion.get("ID") or ""
    if not assertion_id:
        raise SamlRefused(Refusal.MALFORMED, "assertion without an ID")
    authn = assertion.find("saml:AuthnStatement", NS)
    return VerifiedResponse(
        assertion_id=assertion_id,
        in_response_to=next(iter(in_response_to), None),
        expires_at=max(e for e in ends if e is not None) + expected.skew,
        asserted=Asserted(
            idp=expected.idp,
            name_id=(assertion.findtext("saml:Subject/saml:NameID", namespaces=NS) or "").strip()
            or None,
            attributes=_attributes(assertion),
            authn_instant=_time(authn, "AuthnInstant") if authn is not None else None,
        ),
    )


def _bearer_confirmation(assertion: etree._Element) -> etree._Element:
    for confirmation in assertion.findall("saml:Subject/saml:SubjectConfirmation", NS):
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        if confirmation.get("Method") == BEARER and data is not None:
            return data
    raise SamlRefused(Refusal.WRONG_RECIPIENT, "no bearer subject confirmation")


def _attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", NS):
        values = tuple(
            "".join(v.itertext()).strip() for v in attribute.findall("saml:AttributeValue", NS)
        )
        for key in (attribute.get("Name"), attribute.get("FriendlyName")):
            if key:
                found[key] = found.get(key, ()) + values
    return found


def _time(element: etree._Element | None, name: str) -> datetime | None:
    value = element.get(name) if element is not None else None
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise SamlRefused(Refusal.MALFORMED, f"{name} is not a time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
