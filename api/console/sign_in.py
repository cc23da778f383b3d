"""Signing in to the console and out again; every attempt is audited."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.console.session import (
    SIGN_IN,
    SignedInOperator,
    end_session,
    require_operator,
    safe_next,
    start_session,
)
from api.services import services
from api.web.csrf import require_csrf
from api.web.render import render
from core.operator_audit import Action, Outcome, record
from core.operators import SignIn, SignInResult, normal_name, sign_in

router = APIRouter()


@router.get(SIGN_IN)
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "console/sign_in.html", {"next": safe_next(next), "name": ""})


@router.post(SIGN_IN, dependencies=[Depends(require_csrf)])
async def sign_in_form(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    # No length limits that would answer with a validation error: an over-long name is no
    # account, an over-long password no password (core/operators.py), refused like the rest.
    name = name[:200]
    result = await run_in_threadpool(_check, request, name, password)
    if result.outcome is SignIn.OK:
        start_session(request, normal_name(name))
        return RedirectResponse(safe_next(next), status_code=303)
    # Every refusal waits as long and reads the same: wrong password, unknown name, locked.
    await asyncio.sleep(services(request).settings.operator_failure_delay_seconds)
    settings = services(request).settings
    context = {
        "next": safe_next(next),
        "name": name,
        "refused": True,
        "max_failures": settings.operator_max_failures,
        "lockout_minutes": settings.operator_lockout_minutes,
    }
    return render(request, "console/sign_in.html", context, status_code=401)


def _check(request: Request, name: str, password: str) -> SignInResult:
    with services(request).session() as session:
        result = sign_in(session, name, password, services(request).settings)
        detail = "account locked" if result.locked else None
        outcome = Outcome.DONE if result.outcome is SignIn.OK else Outcome.REFUSED
        record(
            session,
            normal_name(name),
            Action.SIGN_IN,
            outcome,
            operator_id=result.operator_id,
            detail=detail,
        )
    return result


@router.post("/console/sign-out", dependencies=[Depends(require_csrf)])
def sign_out(
    request: Request, operator: Annotated[SignedInOperator, Depends(require_operator)]
) -> Response:
    with services(request).session() as session:
        record(session, operator.name, Action.SIGN_OUT, Outcome.DONE, operator_id=operator.id)
    end_session(request)
    return RedirectResponse(SIGN_IN, status_code=303)
