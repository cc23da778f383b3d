"""koppel's pages: templates, session cookies, CSRF and security headers shared by every page."""

from __future__ import annotations

import secrets
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from api.web.csrf import CsrfRefused
from api.web.headers import SecurityHeaders
from api.web.render import message_page
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
    app.add_exception_handler(CsrfRefused, csrf_refused_page)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def csrf_refused_page(request: Request, _exc: CsrfRefused) -> Response:
    """A form without its token (expired, or not from koppel's own page): nothing was done."""
    return message_page(
        request,
        403,
        ("Formulier verlopen", "Form expired"),
        (
            "Dit formulier is verlopen of kwam niet van een pagina van koppel zelf; er is niets "
            "opgeslagen of veranderd.",
            "This form has expired or did not come from koppel's own page; nothing was saved or "
            "changed.",
        ),
        ("Laad de pagina opnieuw en probeer het nog eens.", "Reload the page and try again."),
    )
