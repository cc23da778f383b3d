"""The ceiling for bench/logins: a bare FastAPI endpoint of the evaluate API's shape, no koppel.

Same request and response models, the same bearer-token check (constant-time comparison, an
async dependency as koppel's), a sync endpoint like koppel's, served by uvicorn like 'koppel
api'; it decides nothing and touches no database.

    python -m bench.bare_api --port 8001 --token TOKEN [--processes N]

Served by koppel's own serving code (cli/api_cmd.py): the same pre-bound socket, the same
uvicorn settings, and with --processes the same uvicorn workers, so the two compare fairly.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.schemas import LoginDecisionOut, LoginRequest, PersonOut, SchoolRefOut
from cli.api_cmd import listening_socket, serve

TOKEN_ENV = "BENCH_BARE_TOKEN"  # how the processes of --processes learn the token


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


def process_app() -> FastAPI:
    """The app of one of several processes (uvicorn's workers build it from this name)."""
    logging.basicConfig(level=logging.INFO)  # its start-up lines, which the bench waits for
    return bare_app(os.environ[TOKEN_ENV])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    os.environ[TOKEN_ENV] = args.token
    logging.basicConfig(level=logging.INFO)
    sock = listening_socket("127.0.0.1", args.port)
    app = bare_app(args.token) if args.processes == 1 else "bench.bare_api:process_app"
    serve(app, sock, args.processes)


if __name__ == "__main__":
    main()
