"""Private signing keys encrypted at rest with the key-encryption key from a setting (Fernet).

A stored key is either sealed (``fernet1:`` and a Fernet token: AES-128-CBC with an
HMAC-SHA256, from ``cryptography``) or, as koppel stored them before, plain JWK JSON; plain
ones keep working and are sealed by ``koppel oidc keys encrypt`` or the next rotation.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import ConfigError
from core.settings import Settings

PREFIX = "fernet1:"
SETTING = "KOPPEL_OIDC_KEY_ENCRYPTION_KEY"
MAKE_ONE = (
    "make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


def encryption_keys(settings: Settings) -> list[Fernet]:
    """The key-encryption keys, the one that encrypts first; [] when the setting is unset."""
    value = settings.oidc_key_encryption_key
    if value is None:
        return []
    return [Fernet(part.strip()) for part in value.get_secret_value().split(",")]


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def seal(plain: str, settings: Settings) -> str:
    """``plain`` as it is stored: sealed with the first key, or plain without the setting."""
    keys = encryption_keys(settings)
    return PREFIX + keys[0].encrypt(plain.encode()).decode() if keys else plain


def unseal(stored: str, settings: Settings, kid: str) -> str:
    """The JWK JSON of a stored key, or ConfigError (naming the key by kid, never its text)."""
    if not is_sealed(stored):
        return stored
    keys = encryption_keys(settings)
    if not keys:
        raise ConfigError(
            f"the OpenID Connect signing key {kid} is encrypted, but {SETTING} is not set",
            hint=f"set {SETTING} to the key the signing keys were encrypted with",
        )
    try:
        return MultiFernet(keys).decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise ConfigError(
            f"{SETTING} does not decrypt the OpenID Connect signing key {kid}",
            hint=f"set {SETTING} to the key it was encrypted with; when replacing that key, "
            "give the new one first and the old one after it, separated by a comma, and run "
            "'koppel oidc keys encrypt'",
        ) from None


def resealed(stored: str, settings: Settings, kid: str) -> str | None:
    """The stored text sealed with the first key, or None when it is already."""
    keys = encryption_keys(settings)
    if not keys:
        raise ConfigError(f"{SETTING} is not set: there is no key to encrypt with", hint=MAKE_ONE)
    if is_sealed(stored):
        try:
            keys[0].decrypt(stored.removeprefix(PREFIX).encode())
            return None
        except InvalidToken:
            pass  # sealed with an older key: seal again with the first
    return seal(unseal(stored, settings, kid), settings)
