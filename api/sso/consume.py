"""The assertion consumer's work: every check, then the person through decide_login, then onward.

Nothing is handed on unless the response passed every check and the login policies allowed
the person; a refusal is audited (core.login.audit, no names) and shown as a page.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import structlog
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from api.services import Services
from api.signin import SignedIn, continue_after_sign_in
from api.sso import person
from api.sso.pages import decision_page, not_configured_page, refusal_page
from api.sso.providers import idp_metadata, sp_addresses
from core.db import retry_once_on_disconnect
from core.login.attempt import LoginAttempt
from core.login.audit import record_decision
from core.login.client_address import ClientAddress, derive_client_address
from core.login.decide import decide_login
from core.login.decision import Decision, Denial
from core.saml.method import Asserted, AssertedIdentity, LoginMethod
from core.saml.refusals import Refusal, SamlRefused
from core.saml.state import record_assertion, take_request
from core.saml.verify import Expected, VerifiedResponse, verify_response

log = structlog.get_logger()

FORM = "application/x-www-form-urlencoded"


async def read_capped(request: Request, cap: int) -> bytes | None:
    """The request body, or None as soon as it is larger than ``cap`` (nothing parsed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return None
    return bytes(body)


def consume(request: Request, method: LoginMethod, body: bytes | None) -> Response:
    """Check one posted SAMLResponse and let the person in, or refuse with a page.

    A database restart must not fail a sign-in: a post whose connection the database closed
    is checked again on a new one. The first statement is the one that meets a closed pooled
    connection, and it wrote nothing; a restart between two statements of one post (a
    millisecond's window) finds its assertion id recorded and shows the replay page.
    """
    services: Services = request.app.state.services
    now = datetime.now(UTC)
    client = client_address(request, services)
    outcome = retry_once_on_disconnect(lambda: _judged(request, method, body, client, now))
    if isinstance(outcome, Response):
        return outcome
    who, relay_state = outcome
    log.info(
        "sso_signed_in",
        idp=method.name,
        school_id=who.school_id,
        person_kind=who.person_kind,
        person_id=who.person_id,
    )
    return continue_after_sign_in(request, who, relay_state)


def _judged(
    request: Request, method: LoginMethod, body: bytes | None, client: ClientAddress, now: datetime
) -> tuple[SignedIn, str] | Response:
    """The person let in and the relay state, or the page that ends the sign-in."""
    services: Services = request.app.state.services
    # Each statement its own transaction on PostgreSQL (no BEGIN and COMMIT round trips): the
    # post reads, and writes only rows that stand on their own (the assertion id, the request
    # answered, the audit of a denial), as the evaluate API does.
    with services.autocommit_session() as session:
        try:
            checked = _checked(request, session, method, body, now)
        except SamlRefused as refused:
            session.rollback()
            _audit_refusal(session, refused, client, now)
            session.commit()
            log.warning(
                "sso_refused", idp=method.name, refusal=refused.refusal.value, detail=refused.detail
            )
            return refusal_page(request, refused.refusal)
        if checked is None:
            return not_configured_page(request)
        verified, asserted, relay_state = checked
        identity = person.login_identity(session, method.source, asserted)
        attempt, decision = decide_login(
            session, identity, client, now, services.plugins, services.settings
        )
        if not decision.allowed:
            session.commit()
            return decision_page(request, decision)
        who = person.signed_in(
            session, attempt, method.name, verified.asserted.authn_instant or now
        )
        session.commit()
    return who, relay_state


def _checked(
    request: Request, session: Session, method: LoginMethod, body: bytes | None, now: datetime
) -> tuple[VerifiedResponse, AssertedIdentity, str] | None:
    """Every check of the post, in order; SamlRefused at the first that fails, None when the
    identity provider is not configured. Uses up the request answered and records the
    assertion id (flushed, not committed)."""
    if body is None:
        raise SamlRefused(Refusal.TOO_LARGE)
    xml, relay_state = _posted(request, body)
    found = idp_metadata(request, method)
    if found is None:
        return None
    services: Services = request.app.state.services
    entity_id, acs_url = sp_addresses(services, method.name)
    expected = Expected(
        idp=method.name,
        idp_entity_id=found.entity_id,
        certificates=found.certificates,
        sp_entity_id=entity_id,
        acs_url=acs_url,
        now=now,
        skew=timedelta(seconds=services.settings.sso_clock_skew_seconds),
    )
    verified = verify_response(xml, expected)
    if verified.in_response_to is not None:
        # The relay state koppel stored with its request wins over the posted one.
        relay_state = take_request(session, method.name, verified.in_response_to, now)
    elif not method.unsolicited:
        raise SamlRefused(Refusal.UNSOLICITED)
    else:
        # Nobody asked for this sign-in, so its relay state (anyone can write one into a deep
        # link) must not pick a continuation: the empty prefix sends it to the "" one, which
        # gets the relay state as it came.
        relay_state = f":{relay_state}"
    record_assertion(session, method.name, verified.assertion_id, verified.expires_at)
    asserted = _identity(method, verified.asserted)
    if asserted is None:
        raise SamlRefused(Refusal.IDENTITY_MISSING)
    return verified, asserted, relay_state


def _identity(method: LoginMethod, asserted: Asserted) -> AssertedIdentity | None:
    """The method's reading of the assertion; a method that fails names nobody (fail closed)."""
    try:
        return method.identity(asserted)
    except Exception as exc:
        # Its message may quote the assertion (personal data): log the type only.
        log.error("login_method_failed", idp=method.name, error=type(exc).__name__)
        return None


def client_address(request: Request, services: Services) -> ClientAddress:
    """The browser's address as koppel's own request shows it (peer, trusted proxies' headers)."""
    settings = services.settings
    return derive_client_address(
        request.client.host if request.client is not None else None,
        x_forwarded_for=request.headers.getlist("x-forwarded-for"),
        forwarded=request.headers.getlist("forwarded"),
        trusted_proxies=settings.trusted_proxy_networks,
        proxy_header=settings.proxy_header,
    )


def _posted(request: Request, body: bytes) -> tuple[bytes, str]:
    """The SAMLResponse's XML and the RelayState of an HTTP-POST binding form."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise SamlRefused(Refusal.MALFORMED, "not a form post")
    try:
        fields = parse_qs(body.decode("ascii"), max_num_fields=10, strict_parsing=False)
        encoded = "".join(fields["SAMLResponse"][0].split())
        xml = base64.b64decode(encoded, validate=True)
    except (UnicodeDecodeError, ValueError, KeyError, binascii.Error):
        raise SamlRefused(Refusal.MALFORMED, "no readable SAMLResponse") from None
    return xml, (fields.get("RelayState") or [""])[0]


def _audit_refusal(
    session: Session, refused: SamlRefused, client: ClientAddress, at: datetime
) -> None:
    # The login audit's one writer, with nobody resolved: ids, reason and address only.
    attempt = LoginAttempt(
        school=None, person=None, person_kind=None, roles=(), client=client, at=at, session=session
    )
    denial = Denial(refused.refusal.policy, *refused.refusal.reason)
    record_decision(session, attempt, Decision(allowed=False, denials=(denial,)))
