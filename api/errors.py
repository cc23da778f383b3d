"""koppel's errors as HTTP answers: a status, what is wrong, and what to do."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc

from api.metrics import route_template
from api.problems import invalid_request
from core.brin import InvalidBrin
from core.errors import ConfigError, KoppelError, SchoolNotFound, SourceError, UnknownSource
from core.login.networks import InvalidNetwork

log = structlog.get_logger()

# How long a client should wait before asking again when the database is away (a restart or
# a failover takes seconds; the pool reconnects by itself on the next request).
RETRY_AFTER_SECONDS = 5

STATUS: tuple[tuple[type[KoppelError], int], ...] = (
    (InvalidBrin, 422),
    (InvalidNetwork, 422),
    (SchoolNotFound, 404),
    (UnknownSource, 400),
    (SourceError, 502),
    # koppel itself is misconfigured (a key that does not decrypt, unusable IdP metadata):
    # the request was fine, the service cannot serve it until an operator fixes the setting.
    (ConfigError, 503),
)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KoppelError, _koppel_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(sa_exc.OperationalError, _database_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(sa_exc.InterfaceError, _database_unavailable)  # type: ignore[arg-type]


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


def _database_unavailable(request: Request, exc: sa_exc.DBAPIError) -> Response:
    """The database down, restarting or locked: 503 with when to try again, not a 500.

    Only the driver's error type is logged: SQLAlchemy's message carries the statement's
    parameters, which may be a person's data. A request met by a restart's dropped connection
    is answered so too; the pool has by then marked its connections dead, so the next request
    connects anew.
    """
    log.error(
        "database_unavailable",
        route=route_template(request.scope),
        error=type(exc.orig).__name__,
        connection_lost=exc.connection_invalidated,
    )
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if "text/html" in request.headers.get("accept", ""):
        # pages only: the API answers without Jinja
        from api.web.render import message_page, page_address

        page = message_page(
            request,
            503,
            ("Even niet beschikbaar", "Briefly unavailable"),
            (
                "koppel kan zijn database nu niet bereiken; er is niets opgeslagen of veranderd.",
                "koppel cannot reach its database right now; nothing was saved or changed.",
            ),
            (
                "Probeer het over een minuut opnieuw. Blijft dit zo, meld het dan bij de beheerder "
                "van koppel.",
                "Try again in a minute. If it stays like this, tell koppel's operator.",
            ),
            try_again=page_address(request),
        )
        page.headers.update(headers)
        return page
    return JSONResponse(
        {
            "detail": "koppel cannot reach its database right now; nothing was changed",
            "hint": f"retry after {RETRY_AFTER_SECONDS} s; operators: check the database "
            "(koppel doctor) and koppel's log (event database_unavailable)",
            "error": "DatabaseUnavailable",
        },
        status_code=503,
        headers=headers,
    )
