"""Bearer-token check for every endpoint, and the schools the caller's token may ask about."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import services
from core.api_token import ApiToken
from core.brin import parse_brin6
from core.errors import SchoolNotFound

bearer = HTTPBearer(
    auto_error=False, description="One of the tokens in koppel's KOPPEL_API_TOKENS."
)


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiToken:
    """The configured token the caller sent; otherwise 401 with a WWW-Authenticate challenge.

    Routes that need the token's schools depend on this too; FastAPI runs it once a request.
    ``async`` though it awaits nothing: FastAPI runs a plain function on its thread pool, and
    that hand-over cost more than the comparison itself.
    """
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token: send 'Authorization: Bearer <token>' with a token "
            "from KOPPEL_API_TOKENS",
            headers={"WWW-Authenticate": 'Bearer realm="koppel"'},
        )
    given = credentials.credentials.encode()
    # Compare with every token, no early exit: the time taken says nothing about which matched.
    matched: ApiToken | None = None
    for token in services(request).tokens:
        if hmac.compare_digest(given, token.token.get_secret_value().encode()):
            matched = token
    if matched is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid bearer token: use a token from KOPPEL_API_TOKENS",
            headers={"WWW-Authenticate": 'Bearer realm="koppel", error="invalid_token"'},
        )
    return matched


Caller = Annotated[ApiToken, Depends(require_token)]


def school_in_scope(caller: ApiToken, brin6: str) -> str:
    """The canonical BRIN6 if the caller's token covers that school; otherwise 404.

    404 rather than 403, and without looking the school up: a token for other schools learns
    nothing about whether this one is linked.
    """
    brin, location = parse_brin6(brin6)
    code = f"{brin}{location}"
    if not caller.allows(code):
        raise SchoolNotFound(
            f"school {code} is not among this token's schools",
            hint="use a token for this school: KOPPEL_API_TOKENS lists each token's schools",
        )
    return code
