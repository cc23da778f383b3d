"""Schools whose latest run failed, with the reason, and the 'sync now' button."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from api.console import workers
from api.console.acted import Act
from api.console.page import page
from api.console.session import HOME, SignedInOperator, require_operator
from api.services import services
from api.web.csrf import require_csrf
from core.errors import KoppelError
from core.models import Outcome as RunOutcome
from core.operator_audit import Action
from core.roster import roster
from core.schools import get_school

router = APIRouter()

FAILED = f"{HOME}/failed"


@router.get(FAILED)
def failed_page(
    request: Request, operator: Annotated[SignedInOperator, Depends(require_operator)]
) -> Response:
    with services(request).session() as session:
        entries = roster(session, consent=("granted",), outcomes=(RunOutcome.FAILED,))
    return page(request, operator, "console/failed.html", {"entries": entries})


@router.post(f"{HOME}/schools/{{brin6}}/sync-now", dependencies=[Depends(require_csrf)])
def sync_now(
    request: Request,
    brin6: Annotated[str, Path(max_length=20)],
    operator: Annotated[SignedInOperator, Depends(require_operator)],
) -> Response:
    with services(request).session() as session:
        act = Act(
            request, session, operator, Action.SYNC_NOW, f"school {brin6.upper()[:20]}", FAILED
        )
        try:
            school = get_school(session, brin6)
            session.commit()  # nothing open while RabbitMQ is asked
            message_id = workers.send_now(school.id)
        except KoppelError as exc:
            session.rollback()
            return act.failed(exc, ("Niet in de wachtrij gezet", "Not queued"))
        return replace(act, target=f"school {school.brin6}").done(
            (
                f"{school.brin6} staat in de wachtrij om nu te synchroniseren (bericht "
                f"{message_id}).",
                f"{school.brin6} is queued to sync now (message {message_id}).",
            ),
            detail=f"message {message_id}",
        )
