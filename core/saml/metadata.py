"""Identity provider metadata from a file or URL, and koppel's own service provider metadata."""

from __future__ import annotations

import base64
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from lxml import etree

from core.errors import ConfigError
from core.saml.refusals import SamlRefused
from core.saml.xml import NS, parse_untrusted, q

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


def parse_idp_metadata(data: bytes, where: str) -> IdpMetadata:
    """The identity provider in ``data`` (an EntityDescriptor), or ConfigError saying why not."""
    try:
        root = parse_untrusted(data)
    except SamlRefused as exc:
        raise ConfigError(
            f"the identity provider metadata at {where} is not usable XML: {exc}"
        ) from None
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
    return IdpMetadata(entity.get("entityID") or "", certificates, str(sso[0]) if sso else None)


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
        self._cache: dict[str, tuple[float, IdpMetadata]] = {}

    def get(self, location: str) -> IdpMetadata:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(location)
        if cached is not None and now - cached[0] < self.seconds:
            return cached[1]
        try:
            metadata = parse_idp_metadata(read_metadata_bytes(location), location)
        except ConfigError:
            if cached is None:
                raise
            return cached[1]  # a provider's metadata endpoint down for a while: keep the last
        with self._lock:
            self._cache[location] = (now, metadata)
        return metadata


def sp_metadata(entity_id: str, acs_url: str) -> bytes:
    """koppel's service provider metadata for one identity provider: its entity id and ACS."""
    md = NS["md"]
    entity = etree.Element(q("md", "EntityDescriptor"), nsmap={"md": md}, entityID=entity_id)
    descriptor = etree.SubElement(
        entity,
        q("md", "SPSSODescriptor"),
        AuthnRequestsSigned="false",
        WantAssertionsSigned="true",
        protocolSupportEnumeration=PROTOCOL,
    )
    etree.SubElement(
        descriptor, q("md", "AssertionConsumerService"), Binding=POST, Location=acs_url, index="0"
    )
    return etree.tostring(entity, xml_declaration=True, encoding="UTF-8", pretty_print=True)
