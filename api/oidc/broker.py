"""Sign-ins that come back from the identity provider, and the short broker session.

``oidc:<pending id>``: the LVS asked (/oidc/authorize); back to it with a code. A sign-in
nobody asked for (Basispoort's deep link) goes to the LVS's login-initiation address
(OpenID Connect third-party-initiated login) with a short, one-use broker session in the signed
cookie: the LVS's /oidc/authorize that follows then gets its code without a second sign-in.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import structlog
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import OAuth2Error
from fastapi import FastAPI, Request
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import RedirectResponse, Response

from api.oidc.claims import authenticated
from api.oidc.pages import refused, sign_in_expired, signed_in_nowhere
from api.oidc.provider import Authenticated, Provider
from api.oidc.requests import OidcRequest
from api.services import services
from api.signin import SignedIn, add_continuation
from core.db import retry_once_on_disconnect
from core.models import OidcClient
from core.oidc.codes import take_pending

log = structlog.get_logger()

BROKER = "oidc_broker"
AUTHORIZE_PATH = "/oidc/authorize"


def install_continuations(app: FastAPI) -> None:
    add_continuation(app, "oidc", back_to_client)
    add_continuation(app, "", to_initiating_client)


def now(request: Request) -> datetime:
    """The provider's clock (tests move it by hand)."""
    return request.app.state.oidc_clock()  # type: ignore[no-any-return]


def provider_for(request: Request, session: Session, at: datetime) -> Provider:
    """The provider for one request, with the process's registered clients."""
    svc = services(request)
    return Provider(session, svc.settings, at, request.app.state.oidc_clients)


def claims_for(
    request: Request, session: Session, signed_in: SignedIn, client_id: str
) -> Authenticated:
    return authenticated(session, request.app.state.oidc_pairwise_key, signed_in, client_id)


def back_to_client(request: Request, signed_in: SignedIn, pending_id: str) -> Response:
    """The person the LVS asked for signed in: redirect to it with a one-time code (answered
    again on a new connection when the database closed this one, as /oidc/authorize is)."""
    return retry_once_on_disconnect(lambda: _back_to_client(request, signed_in, pending_id))


def _back_to_client(request: Request, signed_in: SignedIn, pending_id: str) -> Response:
    svc = services(request)
    at = now(request)
    # The pending sign-in taken, the code stored: one statement each.
    with svc.autocommit_session() as session:
        pending = take_pending(session, pending_id, at)
        if pending is None:
            session.commit()
            return sign_in_expired(request)
        client = session.get_one(OidcClient, pending.client_id)
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": pending.redirect_uri,
            "scope": pending.scope,
            "code_challenge": pending.code_challenge,
            "code_challenge_method": pending.code_challenge_method,
            "state": pending.state,
            "nonce": pending.nonce,
        }
        query = ImmutableMultiDict({k: v for k, v in params.items() if v is not None})
        provider = provider_for(request, session, at)
        try:
            # The stored request is checked again: the client may have changed meanwhile.
            oauth = OidcRequest("GET", provider.issuer + AUTHORIZE_PATH, {}, query)
            grant = provider.get_consent_grant(oauth, end_user=signed_in)
            response = provider.issue_code(
                grant, claims_for(request, session, signed_in, client.client_id)
            )
        except OAuth2Error as error:
            response = refused(request, provider, error)
        session.commit()
    return response


def to_initiating_client(request: Request, signed_in: SignedIn, relay_state: str) -> Response:
    """A sign-in the IdP started: on to the LVS that can start a login, with a broker session."""
    svc = services(request)
    with svc.session() as session:
        # From the process's cache: mostly no statement at all (core/oidc/registered.py).
        client = request.app.state.oidc_clients.for_initiated_login(session, relay_state)
        if client is None or client.initiate_login_uri is None:
            log.info("oidc_initiated_sign_in_without_client", school_id=signed_in.school_id)
            return signed_in_nowhere(request)
        client_id, initiate_login_uri = client.client_id, client.initiate_login_uri
    until = now(request) + timedelta(seconds=svc.settings.oidc_broker_session_seconds)
    request.session[BROKER] = {
        "client_id": client_id,
        "until": until.timestamp(),
        "signed_in": _as_json(signed_in),
    }
    target = add_params_to_uri(initiate_login_uri, [("iss", svc.settings.public_url)])
    return RedirectResponse(target, status_code=302)


def broker_sign_in(request: Request, client_id: str | None) -> SignedIn | None:
    """The broker session's person, if it is for this client and still young enough."""
    broker = request.session.get(BROKER)
    if not broker or broker.get("client_id") != client_id:
        return None
    if broker["until"] <= now(request).timestamp():
        request.session.pop(BROKER, None)
        return None
    return _from_json(broker["signed_in"])


def forget_broker_sign_in(request: Request) -> None:
    request.session.pop(BROKER, None)


def _as_json(signed_in: SignedIn) -> dict[str, Any]:
    fields = asdict(signed_in)
    fields["at"] = signed_in.at.isoformat()
    return fields


def _from_json(fields: dict[str, Any]) -> SignedIn:
    return SignedIn(
        **{
            **fields,
            "roles": tuple(fields["roles"]),
            "groups": tuple(fields["groups"]),
            "at": datetime.fromisoformat(fields["at"]),
        }
    )
