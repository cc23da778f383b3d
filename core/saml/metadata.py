"""Identity provider metadata from a file or URL, and koppel's own service provider metadata."""

from __future__ import annotations

import base64
import textwrap
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import structlog
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature

from core.errors import ConfigError
from core.saml.refusals import SamlRefused
from core.saml.xml import NS, parse_untrusted, q

log = structlog.get_logger()

REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
FETCH_TIMEOUT = 10.0
MAX_METADATA_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IdpMetadata:
    """What koppel needs of an identity provider: who it is, its keys, where to send people."""

    entity_id: str
    certificates: tuple[str, ...]  # PEM
    sso_url: str | None  # its SingleSignOnService for the HTTP-Redirect binding
    valid_until: datetime | None = None  # the metadata's validUntil: refused after it


def parse_idp_metadata(
    data: bytes, where: str, signer: str | None = None, now: datetime | None = None
) -> IdpMetadata:
    """The identity provider in ``data`` (an EntityDescriptor), or ConfigError saying why not.

    ``signer``: a PEM certificate; the document must then carry an enveloped signature by it,
    and only what that signature covers is read. A validUntil in the past refuses it either way.
    """
    try:
        root = parse_untrusted(data)
    except SamlRefused as exc:
        raise ConfigError(
            f"the identity provider metadata at {where} is not usable XML: {exc}"
        ) from None
    if signer is not None:
        root = _signed_root(root, where, signer)
    entities = [root] if root.tag == q("md", "EntityDescriptor") else []
    entities += root.findall(".//md:EntityDescriptor", NS)
    idps = [e for e in entities if e.find("md:IDPSSODescriptor", NS) is not None]
    if len(idps) != 1:
        raise ConfigError(
            f"the metadata at {where} describes {len(idps)} identity providers, not one",
            hint="point the setting at the metadata of the one identity provider",
        )
    entity = idps[0]
    descriptor = entity.find("md:IDPSSODescriptor", NS)
    certificates = tuple(
        _pem(text)
        for key in descriptor.findall("md:KeyDescriptor", NS)
        if key.get("use") in (None, "signing")
        for text in key.xpath(".//ds:X509Certificate/text()", namespaces=NS)
    )
    if not certificates:
        raise ConfigError(f"the metadata at {where} names no signing certificate")
    sso = descriptor.xpath(
        "md:SingleSignOnService[@Binding=$binding]/@Location", namespaces=NS, binding=REDIRECT
    )
    valid_until = _valid_until(root, entity, where)
    if valid_until is not None and valid_until <= (now or datetime.now(UTC)):
        raise ConfigError(
            f"the identity provider metadata at {where} expired at {valid_until.isoformat()} "
            "(its validUntil)",
            hint="ask the identity provider or federation for current metadata",
        )
    return IdpMetadata(
        entity.get("entityID") or "", certificates, str(sso[0]) if sso else None, valid_until
    )


def _signed_root(root: etree._Element, where: str, signer: str) -> etree._Element:
    """The document as its enveloped signature by ``signer`` covers it (signxml), or ConfigError."""
    if root.find("ds:Signature", NS) is None:
        raise ConfigError(
            f"the identity provider metadata at {where} is not signed, but a certificate that "
            "must sign it is configured",
            hint="point the setting at the signed metadata, or unset the signer setting",
        )
    # One reference, the document itself; SHA-1 stays refused (signxml's default).
    config = SignatureConfiguration(location="./", expect_references=1)
    try:
        result = XMLVerifier().verify(root, x509_cert=signer, expect_config=config)
    except (InvalidSignature, InvalidInput) as exc:
        raise ConfigError(
            f"the identity provider metadata at {where} does not carry a valid signature by "
            f"the configured metadata signing certificate ({type(exc).__name__})",
            hint="check that the signer setting holds the certificate the federation signs "
            "its metadata with; meanwhile koppel uses the last good copy it read, if any",
        ) from None
    signed = result.signed_xml  # type: ignore[union-attr]
    if signed is None or signed.tag != root.tag or signed.get("ID") != root.get("ID"):
        raise ConfigError(
            f"the signature in the identity provider metadata at {where} covers another "
            "element than the document"
        )
    return signed  # type: ignore[no-any-return]


def _valid_until(root: etree._Element, entity: etree._Element, where: str) -> datetime | None:
    """The earliest validUntil of the document and the entity, if any."""
    moments = []
    for element in (root, entity):
        value = element.get("validUntil")
        if value is None:
            continue
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(
                f"the identity provider metadata at {where} has a validUntil that is not a time"
            ) from None
        moments.append(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))
    return min(moments, default=None)


def read_signer(path: Path) -> str:
    """The PEM certificate that signs an identity provider's metadata, or ConfigError."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ConfigError(
            f"the metadata signing certificate {path} cannot be read: "
            f"{exc.strerror or type(exc).__name__}"
        ) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(f"the metadata signing certificate file {path} holds no certificate")
    return text


def _pem(text: str) -> str:
    body = "".join(text.split())
    base64.b64decode(body, validate=True)  # a broken certificate fails here, not at login
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def read_metadata_bytes(location: str) -> bytes:
    """The metadata document at a file path or an http(s) URL, or ConfigError."""
    if location.startswith(("https://", "http://")):
        try:
            response = httpx.get(location, timeout=FETCH_TIMEOUT, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"the identity provider metadata could not be fetched from {location}: "
                f"{type(exc).__name__}"
            ) from None
        data = response.content
    else:
        try:
            data = Path(location).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"the identity provider metadata file {location} cannot be read: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
    if len(data) > MAX_METADATA_BYTES:
        raise ConfigError(f"the identity provider metadata at {location} is too large")
    return data


class MetadataCache:
    """Each identity provider's metadata, read again after ``seconds``; one for the process."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, Path | None], tuple[float, IdpMetadata]] = {}

    def get(self, location: str, signer: Path | None = None) -> IdpMetadata:
        """The metadata at ``location`` (signed by the certificate in ``signer``, if given)."""
        now = time.monotonic()
        key = (location, signer)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.seconds and _current(cached[1]):
            return cached[1]
        try:
            certificate = read_signer(signer) if signer is not None else None
            metadata = parse_idp_metadata(read_metadata_bytes(location), location, certificate)
        except ConfigError as exc:
            if cached is None or not _current(cached[1]):
                raise
            # A provider's metadata endpoint down (or serving a bad copy) for a while: keep
            # the last good one, and say why each time it is read again.
            log.warning("sso_metadata_kept", location=location, error=str(exc))
            return cached[1]
        with self._lock:
            self._cache[key] = (now, metadata)
        return metadata


def _current(metadata: IdpMetadata) -> bool:
    return metadata.valid_until is None or datetime.now(UTC) < metadata.valid_until


def sp_metadata(entity_id: str, acs_url: str, signing_certificates: Sequence[str] = ()) -> bytes:
    """koppel's service provider metadata for one identity provider: its entity id and ACS,
    and the certificates (base64 DER) its AuthnRequests are signed with, when they are: the
    current key's, then during a rollover the next key's (a provider accepts either)."""
    md = NS["md"]
    entity = etree.Element(
        q("md", "EntityDescriptor"), nsmap={"md": md, "ds": NS["ds"]}, entityID=entity_id
    )
    descriptor = etree.SubElement(
        entity,
        q("md", "SPSSODescriptor"),
        AuthnRequestsSigned="true" if signing_certificates else "false",
        WantAssertionsSigned="true",
        protocolSupportEnumeration=PROTOCOL,
    )
    for certificate in signing_certificates:
        key = etree.SubElement(descriptor, q("md", "KeyDescriptor"), use="signing")
        data = etree.SubElement(etree.SubElement(key, q("ds", "KeyInfo")), q("ds", "X509Data"))
        etree.SubElement(data, q("ds", "X509Certificate")).text = certificate
    etree.SubElement(
        descriptor, q("md", "AssertionConsumerService"), Binding=POST, Location=acs_url, index="0"
    )
    return etree.tostring(entity, xml_declaration=True, encoding="UTF-8", pretty_print=True)
