"""POST /v1/logins/evaluate: may this person log in, from where they are, now?"""

from __future__ import annotations

from datetime import UTC, datetime

import anyio.to_thread
from fastapi import APIRouter

from api.auth import Caller
from api.metrics import count_login
from api.problems import RESPONSES
from api.schemas import DenialOut, LoginDecisionOut, LoginRequest, PersonOut, SchoolRefOut
from api.services import Services, Svc
from core.api_token import ApiToken
from core.db import retry_once_on_disconnect
from core.login.attempt import LoginAttempt
from core.login.client_address import ClientAddress, derive_client_address
from core.login.decide import decide_login
from core.login.decision import Decision
from core.login.identity import LoginIdentity

router = APIRouter(prefix="/v1/logins", tags=["logins"], responses=RESPONSES)


@router.post("/evaluate", response_model=LoginDecisionOut)
async def evaluate(
    body: LoginRequest,
    svc: Svc,
    caller: Caller,
) -> LoginDecisionOut:
    """Judge one login. Let the person in only on a 200 with ``allowed: true``.

    Any other answer (an error, a timeout) means: do not let them in. A school outside the
    token's schools is answered as a school that is not linked (``core:school_unknown``).
    """
    # Async, with the decision handed to a thread here: a sync route is handed to a thread,
    # and FastAPI then hands its answer to another to check it against the response model.
    return await anyio.to_thread.run_sync(answer_login, body, svc, caller)


def answer_login(body: LoginRequest, svc: Services, caller: ApiToken) -> LoginDecisionOut:
    """The evaluate route's work, on a thread of the pool: the decision and its answer."""
    settings = svc.settings
    identity = LoginIdentity(
        source=body.source,
        school_ref=body.school_ref,
        school_id=body.school_id,
        user_id=body.user_id,
        eckid=body.eckid,
    )
    client = derive_client_address(
        body.peer_address,
        x_forwarded_for=body.header("x-forwarded-for"),
        forwarded=body.header("forwarded"),
        trusted_proxies=settings.trusted_proxy_networks,
        proxy_header=settings.proxy_header,
    )
    at = body.at or datetime.now(UTC)

    def decide() -> LoginDecisionOut:
        # An allowed login writes nothing, a denied one one statement (its audit rows): no
        # transaction to open and close around them.
        with svc.autocommit_session() as session:
            attempt, decision = decide_login(
                session, identity, client, at, svc.plugins, settings, school_allowed=caller.allows
            )
            session.commit()
            count_login(decision)
            return _answer(attempt, decision, client)

    # A database restart must not fail a login: decided again on a fresh connection.
    return retry_once_on_disconnect(decide)


def _answer(attempt: LoginAttempt, decision: Decision, client: ClientAddress) -> LoginDecisionOut:
    return LoginDecisionOut(
        allowed=decision.allowed,
        person=(
            PersonOut(kind=attempt.person_kind, id=attempt.person.id)
            if attempt.person is not None and attempt.person_kind is not None
            else None
        ),
        school=SchoolRefOut(brin6=attempt.school.brin6) if attempt.school is not None else None,
        denials=[DenialOut(**_fields(d)) for d in decision.denials],
        shadow_denials=[DenialOut(**_fields(d)) for d in decision.shadow_denials],
        client_address=str(client.ip) if client.ip is not None else None,
        client_address_via=client.via,
    )


def _fields(denial: object) -> dict[str, str]:
    return {k: getattr(denial, k) for k in ("policy", "reason_nl", "reason_en")}
