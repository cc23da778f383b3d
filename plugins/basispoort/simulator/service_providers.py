"""The service providers the simulator's IdP knows, and its check of each AuthnRequest.

A real identity provider registers a service provider from its metadata (here: a file, a URL or
the document itself) or, more bluntly, from its signing certificate alone. With one registered
the simulator is strict: an AuthnRequest must come from a registered entity, carry a valid
HTTP-Redirect signature (SAML bindings 3.4.4.1: rsa-sha256 over the query's octets exactly as
received) when the metadata says ``AuthnRequestsSigned`` or only a certificate is known, and
name a registered assertion consumer. With none registered it checks nothing, as before.

Its own code on ``cryptography``, not koppel's core/saml: the other side of the exchange.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_NS = {"md": MD, "ds": DS}
# The signed octets: these parameters, in this order, as they came (SAML bindings 3.4.4.1).
_SIGNED = ("SAMLRequest", "RelayState", "SigAlg")


class RequestRefused(Exception):
    """An AuthnRequest the IdP will not answer: the HTTP status, a reason code, what is wrong."""

    def __init__(self, status: int, reason: str, explanation: str) -> None:
        super().__init__(explanation)
        self.status = status
        self.reason = reason
        self.explanation = explanation


@dataclass(frozen=True, slots=True)
class ServiceProvider:
    """One registered service provider; ``entity_id`` None: a bare certificate, for anyone."""

    entity_id: str | None
    certificates: tuple[x509.Certificate, ...]
    acs_urls: tuple[str, ...]
    wants_signed: bool

    def verifies(self, octets: bytes, signature: bytes) -> bool:
        """Whether any of its signing certificates verifies ``signature``: a service provider
        replacing its key publishes the next one beside the current one."""
        for certificate in self.certificates:
            key = certificate.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                continue
            try:
                key.verify(signature, octets, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                continue
            return True
        return False


def parse_sp_metadata(data: bytes, where: str) -> list[ServiceProvider]:
    """The service providers (SPSSODescriptor) in a metadata document, or ValueError."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        raise ValueError(f"the service provider metadata at {where} is not XML") from None
    entities = [root] if root.tag == f"{{{MD}}}EntityDescriptor" else []
    entities += root.findall(".//md:EntityDescriptor", _NS)
    providers = []
    for entity in entities:
        descriptor = entity.find("md:SPSSODescriptor", _NS)
        if descriptor is None:
            continue
        certificates = tuple(
            x509.load_der_x509_certificate(base64.b64decode("".join(text.split())))
            for key in descriptor.findall("md:KeyDescriptor", _NS)
            if key.get("use") in (None, "signing")
            for text in key.xpath(".//ds:X509Certificate/text()", namespaces=_NS)
        )
        acs = descriptor.xpath("md:AssertionConsumerService/@Location", namespaces=_NS)
        signed = descriptor.get("AuthnRequestsSigned") in ("true", "1")
        if signed and not certificates:
            raise ValueError(f"the metadata at {where} wants signed requests but has no key")
        providers.append(
            ServiceProvider(entity.get("entityID"), certificates, tuple(map(str, acs)), signed)
        )
    if not providers:
        raise ValueError(f"the metadata at {where} describes no service provider")
    return providers


class ServiceProviders:
    """The registry. Files and documents are read when registered; a URL at every request, so a
    service provider that starts later, or changes its key, is read as it is now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: list[ServiceProvider] = []
        self._urls: list[str] = []

    def register_metadata(self, source: str | Path | bytes) -> None:
        """A metadata document, a file holding one, or an http(s) URL serving one."""
        if isinstance(source, str) and source.startswith(("http://", "https://")):
            with self._lock:
                self._urls.append(source)
            return
        if isinstance(source, bytes):
            providers = parse_sp_metadata(source, "registration")
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as exc:
                raise ValueError(f"cannot read {source}: {exc.strerror}") from None
            providers = parse_sp_metadata(data, str(source))
        with self._lock:
            self._fixed.extend(providers)

    def register_certificate(self, pem: bytes) -> None:
        """A signing certificate alone: every request must then be signed by its key."""
        certificate = x509.load_pem_x509_certificate(pem)
        with self._lock:
            self._fixed.append(ServiceProvider(None, (certificate,), (), True))

    def clear(self) -> None:
        with self._lock:
            self._fixed.clear()
            self._urls.clear()

    @property
    def registered(self) -> bool:
        with self._lock:
            return bool(self._fixed or self._urls)

    def _current(self) -> list[ServiceProvider]:
        with self._lock:
            providers, urls = list(self._fixed), list(self._urls)
        for url in urls:
            try:
                response = httpx.get(url, timeout=10, follow_redirects=True)
                response.raise_for_status()
                providers += parse_sp_metadata(response.content, url)
            except (httpx.HTTPError, ValueError) as exc:
                raise RequestRefused(
                    503,
                    "sp_metadata_unreadable",
                    f"De geregistreerde SP-metadata op {url} is niet te lezen "
                    f"({type(exc).__name__}); is de service provider gestart?",
                ) from None
        return providers

    def provider(self, issuer: str) -> ServiceProvider:
        """The registered provider the request's Issuer names (or a bare certificate's)."""
        providers = self._current()
        for provider in providers:
            if provider.entity_id == issuer:
                return provider
        for provider in providers:
            if provider.entity_id is None:
                return provider
        raise RequestRefused(
            403,
            "unknown_sp",
            f"De service provider {issuer or '(geen Issuer)'} is niet geregistreerd bij deze "
            "identity provider: registreer zijn metadata (--sp-metadata).",
        )

    def check_request(self, raw_query: str, issuer: str, acs_url: str) -> str:
        """Check an AuthnRequest's signature and consumer; "signed" or "unsigned" (allowed by
        the metadata), or RequestRefused. Only call this when something is registered."""
        provider = self.provider(issuer)
        check_consumer(provider, acs_url)
        raw = _raw_parameters(raw_query)
        if "Signature" not in raw:
            if provider.wants_signed:
                raise RequestRefused(
                    403,
                    "unsigned",
                    "Het AuthnRequest is niet ondertekend, maar de service provider heeft "
                    "AuthnRequestsSigned=true geregistreerd.",
                )
            return "unsigned"
        if unquote_plus(raw.get("SigAlg", "")) != RSA_SHA256:
            raise RequestRefused(
                400, "sigalg", f"SigAlg ontbreekt of is niet {RSA_SHA256} (rsa-sha256)."
            )
        try:
            signature = base64.b64decode(unquote_plus(raw["Signature"]), validate=True)
        except binascii.Error:
            signature = b""
        octets = "&".join(f"{name}={raw[name]}" for name in _SIGNED if name in raw).encode()
        if not provider.verifies(octets, signature):
            raise RequestRefused(
                403,
                "signature_invalid",
                "De handtekening van het AuthnRequest klopt niet met het certificaat in de "
                "geregistreerde SP-metadata (gewijzigd onderweg, of met een andere sleutel).",
            )
        return "signed"

    def check_destination(self, audience: str, target: str) -> None:
        """An assertion for ``audience`` goes only to one of its registered consumers."""
        if self.registered:
            check_consumer(self.provider(audience), target)


def check_consumer(provider: ServiceProvider, acs_url: str) -> None:
    if provider.acs_urls and acs_url not in provider.acs_urls:
        raise RequestRefused(
            403,
            "wrong_acs",
            "De AssertionConsumerServiceURL staat niet in de geregistreerde SP-metadata.",
        )


def _raw_parameters(raw_query: str) -> dict[str, str]:
    """The binding's parameters still URL-encoded, as received; one of them twice: refused."""
    raw: dict[str, str] = {}
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        if name in raw and name in (*_SIGNED, "Signature"):
            raise RequestRefused(400, "repeated", f"De parameter {name} komt twee keer voor.")
        raw[name] = value
    return raw
