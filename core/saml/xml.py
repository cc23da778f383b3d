"""Parse XML from outside safely: no DTD, no entities, no network, no huge trees."""

from __future__ import annotations

import re

from lxml import etree

from core.saml.refusals import Refusal, SamlRefused

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}

# A DTD is how XXE and billion laughs arrive; SAML never needs one. Checked on the bytes first
# (cheap, before libxml2 sees them) and on the parsed document (other encodings).
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def q(prefix: str, name: str) -> str:
    """The Clark name of ``prefix:name``, e.g. q("saml", "Assertion")."""
    return f"{{{NS[prefix]}}}{name}"


def safe_parser() -> etree.XMLParser:
    # A parser per document: lxml parsers keep state and are not to be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_untrusted(data: bytes) -> etree._Element:
    """The document's root, or SamlRefused: DTD for any DTD or entity, MALFORMED otherwise."""
    if _DTD.search(data):
        raise SamlRefused(Refusal.DTD, "DOCTYPE or ENTITY in the document")
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise SamlRefused(Refusal.MALFORMED, f"not XML: line {exc.lineno}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SamlRefused(Refusal.DTD, "DTD in the document")
    return root
