"""Schools whose latest run failed, with the reason, and the 'sync now' button."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import RedirectResponse, Response

from api.console import workers
from api.console.page import page
from api.console.session import HOME, SignedInOperator, notify, require_operator
from api.services import services
from api.web.csrf import require_csrf
from core.errors import KoppelError
from core.operator_audit import Action, Outcome, record
from core.roster import roster
from core.schools import get_school

router = APIRouter()

FAILED = f"{HOME}/failed"


@router.get(FAILED)
def failed_page(
    request: Request, operator: Annotated[SignedInOperator, Depends(require_operator)]
) -> Response:
    with services(request).session() as session:
        entries = roster(session, consent=("granted",), outcomes=("failed",))
    return page(request, operator, "console/failed.html", {"entries": entries})


@router.post(f"{HOME}/schools/{{brin6}}/sync-now", dependencies=[Depends(require_csrf)])
def sync_now(
    request: Request,
    brin6: Annotated[str, Path(max_length=20)],
    operator: Annotated[SignedInOperator, Depends(require_operator)],
) -> Response:
    target = f"school {brin6.upper()[:20]}"
    with services(request).session() as session:
        try:
            school = get_school(session, brin6)
            session.commit()  # nothing open while RabbitMQ is asked
            message_id = workers.send_now(school.id)
        except KoppelError as exc:
            session.rollback()
            notify(request, "bad", f"Niet in de wachtrij gezet: {exc}", f"Not queued: {exc}")
            record(
                session,
                operator.name,
                Action.SYNC_NOW,
                Outcome.FAILED,
                operator_id=operator.id,
                target=target,
                detail=str(exc),
            )
            return RedirectResponse(FAILED, status_code=303)
        notify(
            request,
            "ok",
            f"{school.brin6} staat in de wachtrij om nu te synchroniseren (bericht {message_id}).",
            f"{school.brin6} is queued to sync now (message {message_id}).",
        )
        record(
            session,
            operator.name,
            Action.SYNC_NOW,
            Outcome.DONE,
            operator_id=operator.id,
            target=f"school {school.brin6}",
            detail=f"message {message_id}",
        )
    return RedirectResponse(FAILED, status_code=303)
