"""koppel's pages: templates, session cookies, CSRF and security headers shared by every page."""

from __future__ import annotations

import secrets
from pathlib import Path

import structlog
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from api.web.headers import SecurityHeaders
from core.settings import Settings

log = structlog.get_logger()

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "koppel_session"
# A working day: an administrator's or operator's sign-in lasts at most this long.
SESSION_SECONDS = 8 * 3600


def install_web(app: FastAPI, settings: Settings) -> None:
    """Session cookies, security headers and /static for the pages; routers add the pages."""
    if settings.web_secret is None:
        log.warning(
            "web_secret_unset",
            hint="set KOPPEL_WEB_SECRET (32+ characters, the same on every replica) so "
            "sign-ins survive a restart and carry over between replicas",
        )
        secret = secrets.token_urlsafe(32)
    else:
        secret = settings.web_secret.get_secret_value()
    # Secure even over http://127.0.0.1: browsers accept Secure cookies from localhost, and
    # anywhere else koppel is behind HTTPS. SameSite=Lax: the IdP's cross-site POST to the
    # assertion consumer needs no cookie (its state is in the database), top-level GETs keep it.
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_SECONDS,
        same_site="lax",
        https_only=True,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
