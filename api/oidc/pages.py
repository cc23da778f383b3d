"""What the browser gets when a sign-in for an LVS cannot go on.

An error goes back to the LVS (``error=...`` on its redirect URI) only when authlib has checked
that URI against the client's registration; otherwise koppel shows a page and redirects nowhere.
"""

from __future__ import annotations

import structlog
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Error
from starlette.requests import Request
from starlette.responses import Response

from api.web.render import message_page

log = structlog.get_logger()


def refused(request: Request, server: AuthorizationServer, error: OAuth2Error) -> Response:
    """The error on the client's checked redirect URI, or a page saying what is wrong."""
    log.warning(
        "oidc_authorization_refused",
        error=error.error,
        client_id=(request.query_params.get("client_id") or "")[:64],
        redirected=bool(error.redirect_uri),
    )
    if error.redirect_uri:
        return server.handle_response(*error())  # type: ignore[no-any-return]
    detail = f"{error.error}: {error.description}" if error.description else error.error
    return message_page(
        request,
        400,
        ("Inloggen lukt niet", "Signing in failed"),
        (
            "Het leerlingvolgsysteem vroeg op een manier om in te loggen die koppel niet "
            f"aanneemt ({detail}).",
            "The pupil-tracking system asked to sign in in a way koppel does not accept "
            f"({detail}).",
        ),
        (
            "Meld dit aan de leverancier van het leerlingvolgsysteem.",
            "Please tell the supplier of the pupil-tracking system.",
        ),
    )


def sign_in_expired(request: Request) -> Response:
    return message_page(
        request,
        400,
        ("Inloggen duurde te lang", "Signing in took too long"),
        (
            "Deze inlogpoging is verlopen of al gebruikt.",
            "This sign-in has expired or was used already.",
        ),
        (
            "Ga terug naar het leerlingvolgsysteem en log opnieuw in.",
            "Go back to the pupil-tracking system and sign in again.",
        ),
    )


def signed_in_nowhere(request: Request) -> Response:
    return message_page(
        request,
        200,
        ("Ingelogd", "Signed in"),
        ("Je bent ingelogd.", "You are signed in."),
        (
            "koppel weet niet naar welk leerlingvolgsysteem je wilt: open het "
            "leerlingvolgsysteem zelf en kies daar 'Inloggen met Basispoort'.",
            "koppel does not know which pupil-tracking system you want: open it yourself and "
            "choose 'Sign in with Basispoort' there.",
        ),
    )
