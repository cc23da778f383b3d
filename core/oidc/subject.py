"""The ``sub`` an LVS sees: stable per client and person, different between clients, never
koppel's own id, so two LVSs cannot match their users through it."""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import OidcPairwiseKey


def pairwise_key(session: Session) -> bytes:
    """The database's key (made by its migration): every replica computes the same subjects."""
    key = session.scalar(select(OidcPairwiseKey.key).where(OidcPairwiseKey.id == 1))
    if key is None:
        raise RuntimeError("oidc_pairwise_key is empty: run 'koppel db upgrade'")
    return bytes.fromhex(key)


def pairwise_subject(key: bytes, client_id: str, person_kind: str, person_id: int) -> str:
    # The kind is part of the person: pupils and staff are numbered separately.
    message = f"{client_id}\x00{person_kind}:{person_id}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
