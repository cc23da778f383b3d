"""The LVS asks for a one-time link into a school's Basispoort tab for its own administrator."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller, school_in_scope
from api.problems import SCHOOL_RESPONSES
from api.schemas import Text
from api.services import Services, services
from api.web.school.access import LINK_PATH
from core.admin_links import LINK_LIFETIME, mint_admin_link
from core.models import utcnow

router = APIRouter(prefix="/v1/schools", tags=["schools"], responses=SCHOOL_RESPONSES)


class AdminLinkIn(BaseModel):
    """Optional: whom the link is for, in the LVS's own terms."""

    model_config = ConfigDict(extra="forbid")

    admin: Text | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[!-~]+$",
        description="The LVS's id of its signed-in administrator (an id, not a name); kept with "
        "the link and recorded as who decided on a held plan.",
    )


class AdminLinkOut(BaseModel):
    url: str = Field(description="Open this once, within a minute, in the administrator's browser.")
    expires_at: datetime


@router.post("/{brin6}/admin-link", response_model=AdminLinkOut, status_code=201)
def admin_link(
    brin6: str,
    svc: Annotated[Services, Depends(services)],
    caller: Caller,
    body: Annotated[AdminLinkIn | None, Body()] = None,
) -> AdminLinkOut:
    """A one-time link into the school's Basispoort tab, valid one minute, for one browser.

    Mint it when the LVS's own administrator opens the tab, and send their browser straight
    to it; a second use or a late one is refused. A school not linked yet (no consent) gets a
    tab with the connection check only. A token for other schools gets 404.
    """
    code = school_in_scope(caller, brin6)
    with svc.session() as session:
        now = utcnow()
        token = mint_admin_link(session, code, body.admin if body else None, now)
        session.commit()
    return AdminLinkOut(
        url=svc.settings.public_url + LINK_PATH.format(token=token),
        expires_at=now + LINK_LIFETIME,
    )
