"""The operator's console (/console): schools, nights, held plans, failures and dead letters."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from api.console import audit, dead_letters, overview, plans, runs, sign_in
from api.console.session import SIGN_IN, NotSignedIn


def install_console(app: FastAPI) -> None:
    for module in (sign_in, overview, plans, runs, dead_letters, audit):
        app.include_router(module.router, include_in_schema=False)
    app.add_exception_handler(NotSignedIn, _to_sign_in)  # type: ignore[arg-type]


async def _to_sign_in(request: Request, exc: NotSignedIn) -> Response:
    return RedirectResponse(f"{SIGN_IN}?{urlencode({'next': exc.path})}", status_code=303)
