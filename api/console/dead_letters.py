"""The dead-letter queue: messages the workers gave up on, each with a requeue button."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy import select
from starlette.responses import Response

from api.console import workers
from api.console.acted import Act
from api.console.page import page
from api.console.session import HOME, SignedInOperator, require_operator
from api.services import services
from api.web.csrf import require_csrf
from core.errors import KoppelError
from core.models import School
from core.operator_audit import Action

router = APIRouter()

DEAD_LETTERS = f"{HOME}/dead-letters"


@router.get(DEAD_LETTERS)
def dead_letters_page(
    request: Request, operator: Annotated[SignedInOperator, Depends(require_operator)]
) -> Response:
    try:
        found = workers.dead_letters()
    except KoppelError as exc:
        context = {"problem": str(exc), "letters": [], "total": 0, "schools": {}}
        return page(request, operator, "console/dead_letters.html", context)
    ids = {letter.school_id for letter in found.letters if letter.school_id is not None}
    with services(request).session() as session:
        rows = (
            session.execute(
                select(School.id, School.brin, School.location_code).where(School.id.in_(ids))
            ).all()
            if ids
            else []
        )
        schools = {sid: f"{brin}{location}" for sid, brin, location in rows}
    context = {"letters": found.letters, "total": found.total, "schools": schools}
    return page(request, operator, "console/dead_letters.html", context)


@router.post(f"{DEAD_LETTERS}/{{message_id}}/requeue", dependencies=[Depends(require_csrf)])
def requeue(
    request: Request,
    message_id: Annotated[str, Path(max_length=64)],
    operator: Annotated[SignedInOperator, Depends(require_operator)],
) -> Response:
    with services(request).session() as session:
        act = Act(request, session, operator, Action.REQUEUE, f"message {message_id}", DEAD_LETTERS)
        try:
            letter = workers.requeue(message_id)
        except KoppelError as exc:
            return act.failed(exc, ("Niet teruggezet", "Not requeued"))
        return act.done(
            (
                f"Bericht {message_id} staat weer in de wachtrij {letter.queue}.",
                f"Message {message_id} is back on queue {letter.queue}.",
            ),
            detail=f"to {letter.queue}",
        )
