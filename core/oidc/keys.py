"""The keys that sign id_tokens: the newest signs; retired ones stay published until their
tokens have expired, so an LVS can still check a token signed just before a rotation.

RS256 (RSA 2048): the algorithm OpenID Connect requires every provider to offer and every
client to accept. Private keys are stored in the database as JWK JSON, encrypted with
KOPPEL_OIDC_KEY_ENCRYPTION_KEY when it is set (core.oidc.sealing).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import lru_cache

import structlog
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import ColumnElement, ScalarSelect, delete, or_, select, update
from sqlalchemy.orm import Session

from core.models import OidcSigningKey
from core.oidc.sealing import is_sealed, resealed, seal, unseal
from core.settings import Settings, get_settings

log = structlog.get_logger()

ALG = "RS256"
# Clients accept tokens a little past their expiry when clocks differ; keep the key that long.
CLOCK_MARGIN = timedelta(minutes=5)


def _still_verifies(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """The key signs, or tokens it signed before it was retired may not have expired yet."""
    cutoff = now - timedelta(seconds=settings.oidc_token_seconds) - CLOCK_MARGIN
    return or_(OidcSigningKey.retired_at.is_(None), OidcSigningKey.retired_at > cutoff)


def current_kid() -> ScalarSelect[str]:
    """The kid of the key that signs now, as a value another statement can return with its row."""
    return (
        select(OidcSigningKey.kid)
        .where(OidcSigningKey.retired_at.is_(None))
        .order_by(OidcSigningKey.created_at.desc(), OidcSigningKey.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def signing_key(
    session: Session, now: datetime, kid: str | None = None, settings: Settings | None = None
) -> tuple[str, RSAKey]:
    """The key that signs now and its kid; the first one is made on first use.

    ``kid``: the current kid when the caller has it already (core.oidc.codes.redeem_code reads
    it with the code): a key this process has loaded before then costs no statement. A kid is
    the key's thumbprint, so the key loaded under it can never be another one. ``settings``
    (the process's by default) hold the key that encrypts stored keys.
    """
    if kid is not None and kid in _loaded:
        return kid, _loaded[kid]
    row = None
    if kid is not None:  # current a moment ago: still published, even if rotated since
        row = session.scalar(select(OidcSigningKey).where(OidcSigningKey.kid == kid))
    if row is None:
        row = session.scalar(select(OidcSigningKey).where(OidcSigningKey.kid == current_kid()))
    settings = settings or get_settings()
    if row is None:
        row = _new_key(session, now, settings)
    key = _load(row, settings)
    _loaded[row.kid] = key
    return row.kid, key


def published_keys(session: Session, settings: Settings, now: datetime) -> KeySet:
    """The public keys an LVS may meet in a token that has not expired: the JWKS."""
    rows = session.scalars(
        select(OidcSigningKey).where(_still_verifies(settings, now)).order_by(OidcSigningKey.id)
    )
    return KeySet(
        [
            RSAKey.import_key(_load(row, settings).as_dict(private=False), {"kid": row.kid})
            for row in rows
        ]
    )


def rotate(session: Session, settings: Settings, now: datetime) -> OidcSigningKey:
    """Add a key that signs from now on, retire the others, drop those no token needs."""
    session.execute(
        update(OidcSigningKey).where(OidcSigningKey.retired_at.is_(None)).values(retired_at=now)
    )
    new = _new_key(session, now, settings)
    dropped = prune(session, settings, now)
    # Keys stored before the encryption key was set are encrypted now (see encrypt_keys).
    encrypted = encrypt_keys(session, settings) if settings.oidc_key_encryption_key else 0
    log.info("oidc_key_rotated", kid=new.kid, dropped=dropped, encrypted=encrypted)
    return new


def encrypt_keys(session: Session, settings: Settings) -> int:
    """Encrypt every stored key with the first KOPPEL_OIDC_KEY_ENCRYPTION_KEY (plain ones, and
    ones encrypted with an older key); how many were. ConfigError when it is unset or wrong."""
    changed = 0
    for row in list_keys(session):
        stored = resealed(row.private_jwk, settings, row.kid)
        if stored is not None:
            row.private_jwk = stored
            changed += 1
    session.flush()
    return changed


def is_encrypted(row: OidcSigningKey) -> bool:
    return is_sealed(row.private_jwk)


def check_stored_keys(session: Session, settings: Settings) -> tuple[int, int]:
    """How many keys are stored and how many of them encrypted, once each has been decrypted
    (ConfigError naming the first that the encryption key cannot open)."""
    rows = list_keys(session)
    for row in rows:
        unseal(row.private_jwk, settings, row.kid)
    return len(rows), sum(is_encrypted(row) for row in rows)


def prune(session: Session, settings: Settings, now: datetime) -> int:
    """Delete retired keys that no unexpired token can have been signed with."""
    result = session.execute(
        delete(OidcSigningKey)
        .where(~_still_verifies(settings, now))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_keys(session: Session) -> list[OidcSigningKey]:
    return list(session.scalars(select(OidcSigningKey).order_by(OidcSigningKey.id)))


def _new_key(session: Session, now: datetime, settings: Settings) -> OidcSigningKey:
    key = RSAKey.generate_key(2048, private=True)
    row = OidcSigningKey(
        kid=key.thumbprint(),
        alg=ALG,
        private_jwk=seal(json.dumps(key.as_dict(private=True)), settings),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


# Keys loaded by this process, by kid; a handful over its life (one per rotation).
_loaded: dict[str, RSAKey] = {}


def _load(row: OidcSigningKey, settings: Settings) -> RSAKey:
    # Decrypting costs microseconds; importing (below) is what is done once per key.
    return _private_key(unseal(row.private_jwk, settings, row.kid))


@lru_cache(maxsize=16)
def _private_key(jwk_json: str) -> RSAKey:
    # Loading an RSA private key checks it, which costs ~100 ms: once per key per process.
    return RSAKey.import_key(json.loads(jwk_json))
