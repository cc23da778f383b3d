"""The ASGI app: create_app() wires settings, sessions and plugins into the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api import admin_links, logins, schools
from api.auth import require_token
from api.console import install_console
from api.errors import install_error_handlers
from api.health import install_health_routes
from api.metrics import install_metrics
from api.oidc import install_oidc
from api.services import Services
from api.sso import install_sso
from api.web import install_web
from api.web.school import install_school_pages
from core.db import (
    AUTOCOMMIT,
    PING_AFTER_IDLE_SECONDS,
    make_engine,
    make_sessionmaker,
    share_restarts,
)
from core.errors import ConfigError
from core.plugins import Plugins, get_plugins
from core.settings import Settings, get_settings

OPENAPI_PATH = "/openapi.json"
SPARE_CONNECTIONS = 2


def create_app(
    settings: Settings | None = None,
    session_factory: Callable[[], Session] | None = None,
    plugins: Plugins | None = None,
    autocommit_factory: Callable[[], Session] | None = None,
) -> FastAPI:
    """Build the app; refuses (ConfigError) when no API token is configured.

    Every API endpoint, the OpenAPI description included, needs a bearer token, so there is no
    Swagger page: fetch /openapi.json with a token and open it in any OpenAPI viewer. The pages
    and the single sign-on endpoints sign people in their own way.
    """
    settings = settings or get_settings()
    if not settings.api_tokens:
        raise ConfigError(
            "no API token configured, so the API would let anyone ask about logins",
            hint="set KOPPEL_API_TOKENS to a JSON list of long random tokens, e.g. "
            "KOPPEL_API_TOKENS='[\"<token>\"]'; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    if session_factory is None:
        session_factory, autocommit_factory = api_sessions(
            settings, lambda **options: make_engine(settings.database_url, **options)
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The routes are sync functions run on anyio's thread pool (40 threads by default):
        # threads beyond what the database and the one core Python runs on can use only queue
        # at the interpreter lock, and the switching costs more than the work.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="koppel",
        summary="Login decisions and school links for the LVS.",
        version=_version(),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = Services(
        settings=settings,
        session_factory=session_factory,
        plugins=plugins or get_plugins(),
        tokens=tuple(settings.api_tokens),
        autocommit_factory=autocommit_factory,
    )
    # The JSON API needs the LVS's token; the pages and single sign-on have their own sign-in.
    api_token = [Depends(require_token)]
    app.include_router(logins.router, dependencies=api_token)
    app.include_router(schools.router, dependencies=api_token)
    app.include_router(admin_links.router, dependencies=api_token)
    install_web(app, settings)
    install_school_pages(app)
    install_console(app)
    install_oidc(app)
    install_sso(app, settings)
    install_error_handlers(app)
    install_health_routes(app)
    install_metrics(app)

    @app.get(OPENAPI_PATH, include_in_schema=False, dependencies=api_token)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    return app


def api_sessions(
    settings: Settings, engine_on: Callable[..., Engine]
) -> tuple[Callable[[], Session], Callable[[], Session] | None]:
    """The API's two pools: the rest's sessions, and on PostgreSQL the logins' (autocommit).

    ``engine_on(**engine_options)`` makes an engine on the configured database. A pool
    smaller than the thread pool made busy requests open and close a connection each
    (SQLAlchemy's overflow), which cost more than the login itself: the logins' pool keeps one
    connection per thread, made in autocommit once (switching a pooled connection to it and
    back cost a tenth of a login decision). The rest (pages, the schools API) is rarer and
    keeps two, opening more while busy. A connection is checked only after sitting idle: a
    check per request was a round trip per login; one that died in busy use (a restart) fails
    its statement, the login is decided again on a new one (api/logins.py), and the other pool
    drops its connections too (core.db.share_restarts). SQLite keeps its defaults, one pool.
    """
    if settings.database_url.startswith("sqlite"):
        return make_sessionmaker(engine_on()), None
    shared = {"ping_after_idle": PING_AFTER_IDLE_SECONDS}
    rest = engine_on(pool_size=SPARE_CONNECTIONS, max_overflow=settings.api_threads, **shared)
    logins = engine_on(
        pool_size=settings.api_threads,
        max_overflow=SPARE_CONNECTIONS,
        isolation_level=AUTOCOMMIT,
        **shared,
    )
    share_restarts(rest, logins)
    return make_sessionmaker(rest), make_sessionmaker(logins)


def _version() -> str:
    try:
        return version("koppel")
    except PackageNotFoundError:
        return "0"
