"""Bearer-token check for every endpoint, in constant time against every configured token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import services

bearer = HTTPBearer(
    auto_error=False, description="One of the tokens in koppel's KOPPEL_API_TOKENS."
)


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Pass with a configured token; otherwise 401 with a WWW-Authenticate challenge."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token: send 'Authorization: Bearer <token>' with a token "
            "from KOPPEL_API_TOKENS",
            headers={"WWW-Authenticate": 'Bearer realm="koppel"'},
        )
    given = credentials.credentials.encode()
    # Compare with every token, no early exit: the time taken says nothing about which matched.
    matched = False
    for token in services(request).tokens:
        matched |= hmac.compare_digest(given, token)
    if not matched:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid bearer token: use a token from KOPPEL_API_TOKENS",
            headers={"WWW-Authenticate": 'Bearer realm="koppel", error="invalid_token"'},
        )
