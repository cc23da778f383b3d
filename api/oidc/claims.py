"""What an LVS learns about the person who signed in: the id_token's and userinfo's claims.

Ids and the school, never a name: the LVS has the names from its own sync.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.oidc.provider import Authenticated
from api.signin import SignedIn
from core.oidc.subject import PairwiseKey, pairwise_subject

# Beside iss, sub, aud, exp, iat, auth_time, nonce and at_hash (the protocol's own).
PERSON_CLAIMS = ("person_kind", "person_id", "brin6", "roles", "groups", "idp")


def authenticated(
    session: Session, key: PairwiseKey, signed_in: SignedIn, client_id: str
) -> Authenticated:
    """The person as the client ``client_id`` sees them."""
    sub = pairwise_subject(key.get(session), client_id, signed_in.person_kind, signed_in.person_id)
    claims = {
        "sub": sub,
        "person_kind": signed_in.person_kind,
        "person_id": signed_in.person_id,
        "brin6": signed_in.brin6,
        "roles": list(signed_in.roles),
        "groups": list(signed_in.groups),
        "idp": signed_in.idp,
    }
    return Authenticated(claims, signed_in.at)
