"""koppel's errors as HTTP answers: a status, what is wrong, and what to do."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.problems import invalid_request
from core.brin import InvalidBrin
from core.errors import KoppelError, SchoolNotFound, SourceError, UnknownSource
from core.login.networks import InvalidNetwork

STATUS: tuple[tuple[type[KoppelError], int], ...] = (
    (InvalidBrin, 422),
    (InvalidNetwork, 422),
    (SchoolNotFound, 404),
    (UnknownSource, 400),
    (SourceError, 502),
)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KoppelError, _koppel_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]


async def _koppel_error(request: Request, exc: KoppelError) -> JSONResponse:
    code = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
    body: dict[str, object] = {
        "detail": str(exc.args[0]) if exc.args else type(exc).__name__,
        "hint": exc.hint,
        "error": type(exc).__name__,
    }
    if isinstance(exc, InvalidNetwork):
        body["entries"] = exc.entries
    return JSONResponse(body, status_code=code)
