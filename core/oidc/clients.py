"""The LVSs registered to sign people in through koppel (``koppel oidc clients``).

A client's secret is 32 random bytes, shown once; koppel keeps a salted SHA-256 of it. A slow
password hash (argon2) protects guessable secrets; a 256-bit random one cannot be guessed, so
a slow hash would only cost every token request tens of milliseconds of CPU for nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from authlib.common.security import is_secure_transport
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import KoppelError
from core.models import (
    OidcAccessToken,
    OidcClient,
    OidcCode,
    OidcPendingAuthorization,
)
from core.oidc.registered import Client

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ClientError(KoppelError):
    """A client registration that cannot be made or found."""


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client just registered: the secret exists only here, never in the database."""

    client: OidcClient
    secret: str


def secret_digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def secret_matches(client: Client, secret: str) -> bool:
    return hmac.compare_digest(client.secret_hash, secret_digest(client.secret_salt, secret))


def add_client(
    session: Session, name: str, redirect_uris: list[str], initiate_login_uri: str | None = None
) -> NewClient:
    """Register a client; the caller commits and shows the secret once."""
    if not _NAME.fullmatch(name):
        raise ClientError(
            f"{name!r} is not a client name",
            hint="use up to 64 letters, digits, '.', '_' or '-', e.g. 'lvs-production'",
        )
    if not redirect_uris:
        raise ClientError("a client needs at least one redirect URI", hint="add --redirect-uri URL")
    for uri in [*redirect_uris, *([initiate_login_uri] if initiate_login_uri else [])]:
        check_client_uri(uri)
    if session.scalar(select(OidcClient.id).where(OidcClient.name == name)) is not None:
        raise ClientError(
            f"a client named {name!r} exists already",
            hint="choose another name, or 'koppel oidc clients remove' the old one first",
        )
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    client = OidcClient(
        name=name,
        client_id=secrets.token_urlsafe(18),
        secret_salt=salt,
        secret_hash=secret_digest(salt, secret),
        redirect_uris=list(dict.fromkeys(redirect_uris)),
        initiate_login_uri=initiate_login_uri,
    )
    session.add(client)
    session.flush()
    return NewClient(client, secret)


def check_client_uri(uri: str) -> None:
    """A redirect or login URI must be absolute, without fragment, and https (http: loopback)."""
    if "#" in uri or not is_secure_transport(uri):
        raise ClientError(
            f"{uri!r} is not a usable address for a client",
            hint="give an absolute https:// URL without '#' (http:// only for localhost)",
        )


def list_clients(session: Session) -> list[OidcClient]:
    return list(session.scalars(select(OidcClient).order_by(OidcClient.name)))


def remove_client(session: Session, name: str) -> OidcClient:
    """Remove a client and everything it was given (codes, tokens): they stop working at once."""
    client = session.scalar(select(OidcClient).where(OidcClient.name == name))
    if client is None:
        raise ClientError(
            f"there is no client named {name!r}", hint="'koppel oidc clients list' shows them"
        )
    for model in (OidcAccessToken, OidcCode, OidcPendingAuthorization):
        session.execute(delete(model).where(model.client_id == client.id))
    session.delete(client)
    session.flush()
    return client
