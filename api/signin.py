"""Where a single sign-on goes once the login policies let the person in, and how a page starts one.

The SAML side (api/sso) verifies an identity provider's assertion, resolves the person and lets
every login policy judge; only then does it hand a ``SignedIn`` to ``continue_after_sign_in``.
What follows depends on who asked for the sign-in, named by the relay state's prefix:
``oidc:<id>`` goes back to the LVS with a code (api/oidc), ``school:<brin6>`` opens the school's
Basispoort tab (api/web). A sign-in nobody asked for (IdP-initiated, Basispoort's deep link)
goes to the continuation registered under ``""``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from starlette.responses import Response

from api.web.render import message_page
from core.login.attempt import PersonKind


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A person an identity provider vouched for and the login policies let in. No names."""

    source: str  # the identity source the person was synced from, e.g. "basispoort"
    idp: str  # the identity provider configuration that vouched, e.g. "basispoort", "entree"
    person_kind: PersonKind
    person_id: int  # koppel's id of the pupil or staff row
    school_id: int  # koppel's id of the school
    brin6: str
    roles: tuple[str, ...]  # staff roles as the source gives them; () for pupils
    groups: tuple[str, ...]  # the names of the person's groups
    at: datetime  # when the identity provider authenticated them


# (request, who signed in, the relay state after its "prefix:") -> the answer to the browser
Continuation = Callable[[Request, SignedIn, str], Response]


def add_continuation(app: FastAPI, prefix: str, continuation: Continuation) -> None:
    """Route sign-ins whose relay state starts with ``prefix:`` (``""``: unasked-for ones)."""
    if not hasattr(app.state, "sign_in_continuations"):
        app.state.sign_in_continuations = {}
    app.state.sign_in_continuations[prefix] = continuation


def continue_after_sign_in(
    request: Request, signed_in: SignedIn, relay_state: str | None
) -> Response:
    """Hand the signed-in person to whoever asked for the sign-in."""
    continuations: dict[str, Continuation] = getattr(request.app.state, "sign_in_continuations", {})
    prefix, _, rest = (relay_state or "").partition(":")
    if relay_state and prefix in continuations:
        return continuations[prefix](request, signed_in, rest)
    if "" in continuations:
        # An IdP's own relay state (a deep link's target) is not ours to interpret.
        return continuations[""](request, signed_in, relay_state or "")
    return message_page(
        request,
        200,
        ("Ingelogd", "Signed in"),
        ("Je bent ingelogd.", "You are signed in."),
        ("Ga terug naar het leerlingvolgsysteem.", "Go back to the pupil-tracking system."),
    )


def sign_in_url(idp: str, relay_state: str) -> str:
    """Where to send a browser to sign in at ``idp``; the SAML side (api/sso) serves it."""
    return f"/sso/{idp}/login?{urlencode({'relay_state': relay_state})}"
