"""The ``sub`` an LVS sees: stable per client and person, different between clients, never
koppel's own id, so two LVSs cannot match their users through it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import OidcPairwiseKey


def pairwise_key(session: Session) -> bytes:
    """The database's key (made by its migration): every replica computes the same subjects."""
    key = session.scalar(select(OidcPairwiseKey.key).where(OidcPairwiseKey.id == 1))
    if key is None:
        raise RuntimeError("oidc_pairwise_key is empty: run 'koppel db upgrade'")
    return bytes.fromhex(key)


class PairwiseKey:
    """The key, read at the first sign-in and kept: it never changes once made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def get(self, session: Session) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = pairwise_key(session)
            return self._key


def pairwise_subject(key: bytes, client_id: str, person_kind: str, person_id: int) -> str:
    # The kind is part of the person: pupils and staff are numbered separately.
    message = f"{client_id}\x00{person_kind}:{person_id}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
