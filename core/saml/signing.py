"""koppel's own SAML keys: the current one signs AuthnRequests; its certificate, and during a
rollover the next key's, are in koppel's SP metadata."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.errors import ConfigError

SETTING = "KOPPEL_SSO_SIGNING_KEY"
NEXT_SETTING = "KOPPEL_SSO_NEXT_SIGNING_KEY"
# The SAML bindings' SigAlg for RSA with SHA-256 (XML Signature's URI for it).
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
HOW_TO_MAKE = (
    "make one with: openssl req -x509 -newkey rsa:2048 -sha256 -days 3650 -nodes "
    "-subj /CN=koppel-sp -keyout sp.pem -out sp.pem"
)


@dataclass(frozen=True, slots=True)
class SpSigningKey:
    """The service provider's RSA key and its certificate (base64 DER, as metadata holds it)."""

    key: rsa.RSAPrivateKey
    certificate: str

    @property
    def expires(self) -> datetime:
        """When the certificate stops being valid (UTC)."""
        der = base64.b64decode(self.certificate)
        return x509.load_der_x509_certificate(der).not_valid_after_utc

    def sign(self, data: bytes) -> str:
        """The base64 RSA-SHA256 (PKCS #1 v1.5) signature of ``data``."""
        signature = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


@dataclass(frozen=True, slots=True)
class SpSigningKeys:
    """The key that signs koppel's AuthnRequests and, while it is being replaced, the next one:
    published beside it so identity providers know it before the switch, signing nothing."""

    current: SpSigningKey
    next: SpSigningKey | None = None

    @property
    def certificates(self) -> tuple[str, ...]:
        """The certificates koppel's metadata publishes, the current key's first."""
        return tuple(key.certificate for key in (self.current, self.next) if key is not None)


def load_signing_keys(current: Path | None, next_key: Path | None) -> SpSigningKeys | None:
    """koppel's signing keys from their settings' files (None: requests go unsigned), or
    ConfigError saying which setting is wrong and what to do."""
    if current is None:
        if next_key is not None:
            raise ConfigError(
                f"{NEXT_SETTING} is set but {SETTING} is not: the next key is published "
                "beside a current key that signs",
                hint=f"set {SETTING} to the key that signs now (or, signing for the first "
                f"time, put the new key in {SETTING} and unset {NEXT_SETTING})",
            )
        return None
    keys = SpSigningKeys(
        load_signing_key(current),
        load_signing_key(next_key, NEXT_SETTING) if next_key is not None else None,
    )
    if keys.next is not None and _same_key(keys.current, keys.next):
        raise ConfigError(
            f"{NEXT_SETTING} ({next_key}) holds the same key as {SETTING} ({current})",
            hint=f"make a new key for {NEXT_SETTING} ({HOW_TO_MAKE}), or unset it "
            "once the switch is done",
        )
    return keys


def _same_key(one: SpSigningKey, other: SpSigningKey) -> bool:
    return one.key.public_key().public_numbers() == other.key.public_key().public_numbers()


def load_signing_key(path: Path, setting: str = SETTING) -> SpSigningKey:
    """The key and certificate in one PEM file, or ConfigError saying what is wrong with it."""
    where = f"{setting} ({path})"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read: {exc.strerror or type(exc).__name__}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        # No key text in the message: the file may hold a key that is merely encrypted.
        raise ConfigError(
            f"{where} holds no unencrypted PEM private key",
            hint=f"put the private key and its certificate in one PEM file; {HOW_TO_MAKE}",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ConfigError(
            f"{where} holds no RSA key of at least 2048 bits (AuthnRequests are signed rsa-sha256)",
            hint=HOW_TO_MAKE,
        )
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(
            f"{where} holds no certificate", hint="append the key's certificate to the file"
        ) from None
    if certificate.public_key().public_numbers() != key.public_key().public_numbers():
        raise ConfigError(f"{where}: the certificate is not the private key's")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SpSigningKey(key, base64.b64encode(der).decode())
