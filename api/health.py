"""/health (the process answers) and /ready (its database and broker answer), without a token."""

from __future__ import annotations

import structlog
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse

from api.services import Services
from core.errors import KoppelError
from core.probes import check_broker, ping_database

log = structlog.get_logger()

# Short: a health check that waits longer than the checker's own timeout helps nobody.
BROKER_TIMEOUT_SECONDS = 2.0


def install_health_routes(app: FastAPI) -> None:
    """Plain Starlette routes, outside the app's token dependency: orchestrators and load
    balancers ask them without credentials, and they answer nothing about schools or people."""
    app.add_route("/health", health, methods=["GET"], include_in_schema=False)
    app.add_route("/ready", ready, methods=["GET"], include_in_schema=False)


def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


def ready(request: Request) -> JSONResponse:
    """200 when the database (and RabbitMQ, if configured) answer; 503 naming what does not.

    The reasons go to the log, not the answer: it is unauthenticated.
    """
    services: Services = request.app.state.services
    checks = {"database": "ok", "broker": "unused"}
    try:
        ping_database(services.session_factory)
    except KoppelError as exc:
        checks["database"] = "unreachable"
        log.warning("not_ready", part="database", reason=str(exc))
    if services.settings.broker_url:
        try:
            check_broker(services.settings.broker_url, timeout=BROKER_TIMEOUT_SECONDS)
            checks["broker"] = "ok"
        except KoppelError as exc:
            checks["broker"] = "unreachable"
            log.warning("not_ready", part="broker", reason=str(exc))
    ok = "unreachable" not in checks.values()
    return JSONResponse({"status": "ready" if ok else "not ready", **checks}, 200 if ok else 503)
