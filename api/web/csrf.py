"""CSRF protection for every form: a token kept in the signed session, echoed by each form."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"


class CsrfRefused(Exception):
    """A page's form came without this session's token: answered with a page (install_web)."""


def csrf_token(request: Request) -> str:
    """This browser session's token, made on first use; templates put it in a hidden field."""
    token = request.session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return str(token)


async def require_csrf(request: Request) -> None:
    """A FastAPI dependency for every POST of a page: refuse (CsrfRefused) a form without its
    token.

    Read from the form (or an X-CSRF-Token header, for htmx requests).
    """
    expected = request.session.get(SESSION_KEY)
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get(FORM_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise CsrfRefused
