"""The OpenID Connect endpoints: discovery, JWKS, authorization, token and userinfo."""

from __future__ import annotations

import json
import re
from typing import Any

import structlog
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, OAuth2Error
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from api.oidc.broker import (
    AUTHORIZE_PATH,
    broker_sign_in,
    claims_for,
    forget_broker_sign_in,
    now,
    provider_for,
)
from api.oidc.claims import PERSON_CLAIMS
from api.oidc.pages import refused
from api.oidc.provider import AUTH_METHODS, SCOPE, Provider
from api.oidc.requests import OidcRequest
from api.services import services
from api.signin import sign_in_url
from core.db import retry_once_on_disconnect
from core.oidc.codes import save_pending
from core.oidc.keys import ALG, published_keys

log = structlog.get_logger()

router = APIRouter(include_in_schema=False)

_IDP = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")


def metadata(issuer: str) -> dict[str, Any]:
    """The discovery document: everything a stock client needs to know, from one address."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}{AUTHORIZE_PATH}",
        "token_endpoint": f"{issuer}/oidc/token",
        "userinfo_endpoint": f"{issuer}/oidc/userinfo",
        "jwks_uri": f"{issuer}/oidc/jwks",
        "scopes_supported": [SCOPE],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [ALG],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            *("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"),
            *PERSON_CLAIMS,
        ],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }


@router.get("/.well-known/openid-configuration")
def discovery(request: Request) -> JSONResponse:
    return JSONResponse(metadata(services(request).settings.public_url))


@router.get("/oidc/jwks")
def jwks(request: Request) -> JSONResponse:
    svc = services(request)
    with svc.session() as session:
        keys = published_keys(session, svc.settings, now(request))
    # Short: after a rotation clients should see the new key soon (most refetch on a new kid).
    return JSONResponse(keys.as_dict(private=False), headers={"Cache-Control": "max-age=60"})


# A database restart must not fail either: a request whose connection the database closed is
# answered again on a new one (its first statement met the closed connection and wrote nothing).
@router.api_route(AUTHORIZE_PATH, methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    form = await request.form() if request.method == "POST" else None
    return await run_in_threadpool(retry_once_on_disconnect, lambda: _authorize(request, form))


@router.post("/oidc/token")
async def token(request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(retry_once_on_disconnect, lambda: _token(request, form))


@router.api_route("/oidc/userinfo", methods=["GET", "POST"])
def userinfo(request: Request) -> Response:
    svc = services(request)
    with svc.session() as session:
        provider = provider_for(request, session, now(request))
        try:
            return provider.userinfo(_oauth_request(provider, request))
        except OAuth2Error as error:
            return provider.handle_error_response(None, error)  # type: ignore[no-any-return]


def _authorize(request: Request, form: FormData | None) -> Response:
    """Check the request (authlib); then a code at once when the broker session has the person,
    otherwise a pending authorization and off to the identity provider to sign in."""
    svc = services(request)
    at = now(request)
    # One statement each: the code or the pending sign-in stored.
    with svc.autocommit_session() as session:
        provider = provider_for(request, session, at)
        try:
            oauth = _oauth_request(provider, request, form)
            signed_in = broker_sign_in(request, oauth.payload.client_id)
            grant = provider.get_consent_grant(oauth, end_user=signed_in)
            if signed_in is not None:
                user = claims_for(request, session, signed_in, grant.client.get_client_id())
                try:
                    response = provider.issue_code(grant, user)
                except OAuth2Error:
                    forget_broker_sign_in(request)  # refused for this client: used up all the same
                    raise
                # Only now: a request retried after a database restart still finds it.
                forget_broker_sign_in(request)
                session.commit()
                return response
            idp = oauth.payload.data.get("idp_hint") or svc.settings.oidc_default_idp
            if not _IDP.fullmatch(idp):
                raise InvalidRequestError(
                    "Unknown 'idp_hint'.",
                    state=oauth.payload.state,
                    redirect_uri=grant.redirect_uri,
                )
            data = oauth.payload.data
            pending = save_pending(
                session,
                svc.settings,
                at,
                client_id=grant.client.row.id,
                redirect_uri=grant.redirect_uri,
                scope=oauth.scope,
                state=data.get("state"),
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
            )
            if pending is None:
                raise InvalidClientError(description="The client is no longer registered.")
            session.commit()
        except OAuth2Error as error:
            return refused(request, provider, error)
    return RedirectResponse(sign_in_url(idp, f"oidc:{pending.id}"), status_code=302)


def _token(request: Request, form: FormData) -> Response:
    svc = services(request)
    # The code redeemed and the token stored, each its own transaction on PostgreSQL: a token
    # request that fails between the two has spent its code and got no token.
    with svc.autocommit_session() as session:
        provider = provider_for(request, session, now(request))
        try:
            oauth = _oauth_request(provider, request, form)
        except OAuth2Error as error:
            return provider.handle_error_response(None, error)  # type: ignore[no-any-return]
        response: Response = provider.create_token_response(oauth)
        # Also on failure: a redeemed code stays redeemed, a replay's revocations stay.
        session.commit()
    if response.status_code >= 400:
        log.warning(
            "oidc_token_refused",
            status=response.status_code,
            error=json.loads(bytes(response.body)).get("error"),
        )
    return response


def _oauth_request(
    provider: Provider, request: Request, form: FormData | None = None
) -> OidcRequest:
    """The request at koppel's public address: behind a proxy, koppel itself may see http.

    From the ASGI scope itself: Starlette's ``request.url`` parses and rebuilds the whole URL.
    """
    uri = f"{provider.issuer}{request.scope['path']}"
    query = request.scope["query_string"]
    if query:
        uri = f"{uri}?{query.decode('latin-1')}"
    return OidcRequest(request.method, uri, request.headers, request.query_params, form)
