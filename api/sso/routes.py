"""The SAML endpoints of an identity provider: start a sign-in, consume it, describe koppel."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.services import Services
from api.sso.consume import consume, read_capped
from api.sso.pages import last_outcome_page, not_configured_page, refusal_page, unknown_idp_page
from api.sso.providers import (
    idp_metadata,
    login_method,
    request_signer,
    signing_keys,
    sp_addresses,
)
from core.saml.metadata import sp_metadata
from core.saml.refusals import Refusal
from core.saml.request import authn_request_url, new_request_id
from core.saml.state import RELAY_STATE_MAX, remember_request, request_expiry

log = structlog.get_logger()

router = APIRouter(prefix="/sso", include_in_schema=False)


@router.get("/{idp}/metadata")
def metadata(idp: str, request: Request) -> Response:
    """koppel's service provider metadata for ``idp``: give it to the identity provider."""
    method = login_method(request, idp)
    if method is None:
        return unknown_idp_page(request)
    entity_id, acs_url = sp_addresses(request.app.state.services, idp)
    keys = signing_keys(request, method)
    body = sp_metadata(entity_id, acs_url, keys.certificates if keys is not None else ())
    return Response(body, media_type="application/samlmetadata+xml")


@router.get("/{idp}/login")
def login(idp: str, request: Request, relay_state: str = "") -> Response:
    """Send the browser to the identity provider with an AuthnRequest (stored for its answer)."""
    method = login_method(request, idp)
    if method is None:
        return unknown_idp_page(request)
    if len(relay_state) > RELAY_STATE_MAX:
        return refusal_page(request, Refusal.MALFORMED)
    found = idp_metadata(request, method)
    if found is None or found.sso_url is None:
        return not_configured_page(request)
    services: Services = request.app.state.services
    entity_id, acs_url = sp_addresses(services, idp)
    request_id = new_request_id()
    now = datetime.now(UTC)
    with services.session() as session:
        expires = request_expiry(now, services.settings.sso_request_seconds)
        remember_request(session, idp, request_id, relay_state, expires)
        session.commit()
    log.info("sso_request_sent", idp=idp)
    url = authn_request_url(
        request_id=request_id,
        sso_url=found.sso_url,
        sp_entity_id=entity_id,
        acs_url=acs_url,
        relay_state=relay_state,
        signer=request_signer(request, method),
        now=now,
    )
    return RedirectResponse(url, status_code=303)


@router.post("/{idp}/acs")
async def acs(idp: str, request: Request) -> Response:
    """The assertion consumer: verify, resolve, judge, then hand on (or refuse with a page)."""
    method = login_method(request, idp)
    if method is None:
        return unknown_idp_page(request)
    services: Services = request.app.state.services
    body = await read_capped(request, services.settings.sso_max_post_bytes)
    return await run_in_threadpool(consume, request, method, body)


@router.get("/{idp}/acs")
def acs_again(idp: str, request: Request) -> Response:
    """The consumer address opened by a browser: the latest outcome (e.g. in another language)."""
    if login_method(request, idp) is None:
        return unknown_idp_page(request)
    return last_outcome_page(request)
