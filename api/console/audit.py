"""The audit page: what operators did in the console, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.console.page import page
from api.console.session import HOME, SignedInOperator, require_operator
from api.services import services
from core.operator_audit import recent_actions

router = APIRouter()


@router.get(f"{HOME}/audit")
def audit_page(
    request: Request, operator: Annotated[SignedInOperator, Depends(require_operator)]
) -> Response:
    with services(request).session() as session:
        actions = recent_actions(session)
    return page(request, operator, "console/audit.html", {"actions": actions})
