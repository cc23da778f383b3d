"""The ceiling for bench/logins: a bare FastAPI endpoint of the evaluate API's shape, no koppel.

Same request and response models, the same bearer-token check (constant-time comparison, an
async dependency as koppel's), a sync endpoint like koppel's, served by uvicorn like 'koppel
api'; it decides nothing and touches no database. python -m bench.bare_api --port 8001 --token TOKEN
"""

from __future__ import annotations

import argparse
import hmac
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.schemas import LoginDecisionOut, LoginRequest, PersonOut, SchoolRefOut


def bare_app(token: str) -> FastAPI:
    expected = token.encode()

    async def checked(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer())],
    ) -> None:
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401)

    app = FastAPI(dependencies=[Depends(checked)])

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/logins/evaluate", response_model=LoginDecisionOut)
    def evaluate(body: LoginRequest) -> LoginDecisionOut:
        return LoginDecisionOut(
            allowed=True,
            person=PersonOut(kind="pupil", id=1),
            school=SchoolRefOut(brin6="12AB00"),
            denials=[],
            shadow_denials=[],
            client_address=body.peer_address,
            client_address_via="peer",
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    uvicorn.run(bare_app(args.token), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
