"""What an authorization leaves in the database, so any API replica can carry it on: pending
sign-ins, one-time codes and access tokens, the last two only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Insert, Row, bindparam, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from core.models import Base, OidcAccessToken, OidcClient, OidcCode, OidcPendingAuthorization
from core.oidc.keys import current_kid
from core.settings import Settings

log = structlog.get_logger()

_PENDING_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what save_pending makes (token_urlsafe)


def digest(secret: str) -> str:
    """Codes and tokens are stored hashed: reading the database does not let anyone redeem them."""
    return hashlib.sha256(secret.encode()).hexdigest()


def save_pending(
    session: Session, settings: Settings, now: datetime, **fields: Any
) -> OidcPendingAuthorization | None:
    """The pending authorization stored; None when its client is no longer registered."""
    pending = OidcPendingAuthorization(
        id=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.oidc_sign_in_seconds),
        **fields,
    )
    stored = _insert_for_client(
        session,
        OidcPendingAuthorization,
        {
            "id": pending.id,
            "created_at": pending.created_at,
            "expires_at": pending.expires_at,
            **fields,
        },
    )
    return pending if stored else None


def _insert_for_client(
    session: Session, model: type[Base], values: dict[str, Any], nonce_unused: bool = False
) -> bool:
    """INSERT one row only while its client is registered (and, with ``nonce_unused``, while
    no code carried its nonce to that client): one statement, so a client removed a moment ago
    gets nothing, whatever a replica's cache still says."""
    statement = _insert_for_client_statement(model, tuple(values), nonce_unused)
    inserted = session.execute(statement, {f"v_{name}": value for name, value in values.items()})
    return inserted.first() is not None


# Built once per shape, the values bound at execution: statements built per call, and their
# cache keys, were a seventh of a full login's CPU (docs/benchmarks.md, 'After this round').
# The parameters are named v_*, not after columns, so none is read as a column to set.
@cache
def _insert_for_client_statement(
    model: type[Base], names: tuple[str, ...], nonce_unused: bool
) -> Insert:
    table = model.__table__
    row = select(*(bindparam(f"v_{name}", type_=table.c[name].type) for name in names)).where(
        exists().where(OidcClient.id == bindparam("v_client_id"))
    )
    if nonce_unused:
        row = row.where(
            ~exists().where(
                OidcCode.client_id == bindparam("v_client_id"),
                OidcCode.nonce == bindparam("v_nonce"),
            )
        )
    [key] = table.primary_key.columns
    return insert(table).from_select(list(names), row, include_defaults=False).returning(key)


def client_registered(session: Session, client_pk: int) -> bool:
    return bool(session.scalar(_CLIENT_REGISTERED, {"client": client_pk}))


_CLIENT_REGISTERED = select(exists().where(OidcClient.id == bindparam("client")))


def take_pending(session: Session, pending_id: str, now: datetime) -> Row[Any] | None:
    """The pending authorization, deleted so it serves one sign-in; None if gone or expired.

    One DELETE … RETURNING: two replicas finishing the same sign-in, only the one whose DELETE
    found the row goes on. An expired one is deleted all the same.
    """
    if not _PENDING_ID.fullmatch(pending_id):
        return None  # the relay state came back through the browser: anything may be in it
    pending = session.execute(_TAKE_PENDING, {"id": pending_id}).first()
    if pending is None or pending.expires_at <= now:
        return None
    return pending


_PENDING = OidcPendingAuthorization.__table__
_TAKE_PENDING = delete(_PENDING).where(_PENDING.c.id == bindparam("id")).returning(*_PENDING.c)


def save_code(
    session: Session, settings: Settings, now: datetime, code: str, **fields: Any
) -> bool:
    """Store a code's hash; False when its client is gone or its nonce already carried a code
    to that client (a replayed authorization request): nothing is stored then."""
    values = {
        "code_hash": digest(code),
        "created_at": now,
        "expires_at": now + timedelta(seconds=settings.oidc_code_seconds),
        **fields,
    }
    return _insert_for_client(
        session, OidcCode, values, nonce_unused=values.get("nonce") is not None
    )


def redeem_code(
    session: Session, code: str, client_pk: int, now: datetime
) -> tuple[Row[Any] | None, str | None]:
    """The code's row if this is its first redemption, by its client, in time (else None), and
    the kid of the key that signs now (read in the same statement: a rotation counts at once).

    One conditional UPDATE decides, so two replicas redeeming at once cannot both win. A
    second redemption revokes the tokens the first one got (RFC 6749 §4.1.2): the code leaked.
    The row is a plain one (Core, not an ORM object): the token request only reads it.
    """
    code_hash = digest(code)
    claimed = session.execute(_REDEEM, {"hash": code_hash, "client": client_pk, "at": now}).first()
    if claimed is not None:
        return claimed, claimed.signing_kid
    row = session.execute(_FIND_CODE, {"hash": code_hash, "client": client_pk}).first()
    if row is not None and row.redeemed_at is not None:
        revoked = session.execute(_REVOKE_TOKENS, {"code": row.id, "at": now})
        log.warning("oidc_code_replayed", code_id=row.id, tokens_revoked=revoked.rowcount)  # type: ignore[attr-defined]
    return None, None


_CODES = OidcCode.__table__
_REDEEM = (
    update(_CODES)
    .where(
        _CODES.c.code_hash == bindparam("hash"),
        _CODES.c.client_id == bindparam("client"),
        _CODES.c.redeemed_at.is_(None),
        _CODES.c.expires_at > bindparam("at"),
    )
    .values(redeemed_at=bindparam("at"))
    .returning(*_CODES.c, current_kid().label("signing_kid"))
)
_FIND_CODE = select(_CODES.c.id, _CODES.c.redeemed_at).where(
    _CODES.c.code_hash == bindparam("hash"), _CODES.c.client_id == bindparam("client")
)
_TOKENS = OidcAccessToken.__table__
_REVOKE_TOKENS = (
    update(_TOKENS)
    .where(_TOKENS.c.code_id == bindparam("code"), _TOKENS.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("at"))
)


def nonce_used(session: Session, client_pk: int, nonce: str) -> bool:
    """Has a code already carried this nonce to this client? (a replayed authorization request)"""
    return bool(session.scalar(_NONCE_USED, {"client": client_pk, "nonce": nonce}))


_NONCE_USED = select(
    exists().where(OidcCode.client_id == bindparam("client"), OidcCode.nonce == bindparam("nonce"))
)


def save_access_token(
    session: Session, token: str, code: Row[Any], expires_in: int, now: datetime
) -> None:
    session.execute(
        _SAVE_TOKEN,
        {
            "token_hash": digest(token),
            "code_id": code.id,
            "client_id": code.client_id,
            "scope": code.scope,
            "created_at": now,
            "expires_at": now + timedelta(seconds=expires_in),
        },
    )


_SAVE_TOKEN = insert(OidcAccessToken.__table__)


def find_access_token(session: Session, token: str) -> tuple[OidcAccessToken, OidcCode] | None:
    row = session.execute(
        select(OidcAccessToken, OidcCode)
        .join(OidcCode, OidcCode.id == OidcAccessToken.code_id)
        .where(OidcAccessToken.token_hash == digest(token))
    ).first()
    return (row[0], row[1]) if row is not None else None


def expired(settings: Settings, now: datetime) -> list[tuple[str, Any, ColumnElement[bool]]]:
    """What history pruning deletes: tokens first, then codes no token refers to any more."""
    token_life = timedelta(seconds=settings.oidc_token_seconds)
    return [
        (
            "oidc_pending_sign_ins",
            OidcPendingAuthorization,
            OidcPendingAuthorization.expires_at < now,
        ),
        ("oidc_tokens", OidcAccessToken, OidcAccessToken.expires_at < now),
        (
            "oidc_codes",
            OidcCode,
            (OidcCode.expires_at < now - token_life)
            & ~exists().where(OidcAccessToken.code_id == OidcCode.id),
        ),
    ]
