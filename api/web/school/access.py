"""Who may see a school's Basispoort tab: a one-time link from the LVS, or staff via Basispoort.

Either way the browser's signed session then names exactly one school; every page and form of
the tab checks it. A request for any other school, or by anyone without such a session, gets
the same 404 page whether that school exists or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from api.services import services
from api.signin import SignedIn, add_continuation, sign_in_url
from api.web.csrf import require_csrf
from api.web.render import message_page, render
from api.web.school.words import LINK_PROBLEMS
from core.admin_links import AdminLinkRefused, LinkProblem, use_admin_link
from core.brin import InvalidBrin, parse_brin6
from core.models import School, utcnow
from core.schools import school_by_brin6

log = structlog.get_logger()

SESSION_KEY = "school_admin"
LINK_PATH = "/school/link/{token}"
# The relay state's prefix for sign-ins that should open a school's tab (api/signin.py).
RELAY_PREFIX = "school"

router = APIRouter(include_in_schema=False)


def tab_path(brin6: str) -> str:
    return f"/school/{brin6}/basispoort"


class NotYours(Exception):
    """A page or form of a school this browser is not signed in for (or that does not exist)."""

    def __init__(self, brin6: str | None) -> None:
        super().__init__("not signed in for this school")
        self.brin6 = brin6


@dataclass(frozen=True, slots=True)
class SchoolAdmin:
    """The signed-in administrator of one school, as the session says."""

    brin6: str
    by: str  # who decides, for the audit: ids only, never a name


def canonical_brin6(text: str) -> str | None:
    try:
        brin, location = parse_brin6(text)
    except InvalidBrin:
        return None
    return f"{brin}{location}"


def school_admin(request: Request, brin6: str) -> SchoolAdmin:
    """The dependency of every page and form of the tab: this browser's school, or NotYours."""
    code = canonical_brin6(brin6)
    granted = request.session.get(SESSION_KEY)
    if code is None or not isinstance(granted, dict) or granted.get("brin6") != code:
        raise NotYours(code)
    return SchoolAdmin(code, str(granted.get("by", "")))


Admin = Annotated[SchoolAdmin, Depends(school_admin)]


def the_school(session: Session, admin: SchoolAdmin) -> School:
    """The admin's school row; one unlinked since the sign-in is refused like any other."""
    school = school_by_brin6(session, admin.brin6)
    if school is None:
        raise NotYours(admin.brin6)
    return school


def grant(request: Request, brin6: str, by: str) -> RedirectResponse:
    """Start the school's session (a fresh one: nothing of an earlier session carries over)."""
    request.session.clear()
    request.session[SESSION_KEY] = {"brin6": brin6, "by": by[:200], "at": utcnow().isoformat()}
    return RedirectResponse(tab_path(brin6), status_code=303)


def not_yours_page(request: Request, exc: NotYours) -> Response:
    """One answer for every school that is not this browser's: nothing about it is revealed."""
    return message_page(
        request,
        404,
        ("Niet gevonden", "Not found"),
        (
            "Deze pagina bestaat niet, of je bent niet ingelogd voor deze school.",
            "This page does not exist, or you are not signed in for this school.",
        ),
        (
            "Open het tabblad Basispoort opnieuw vanuit het LVS, of log in via Basispoort.",
            "Open the Basispoort tab again from the LVS, or sign in through Basispoort.",
        ),
    )


@router.get(LINK_PATH)
def open_link(request: Request, token: str) -> Response:
    """The LVS's one-time link: used once, within a minute, it opens the school's tab."""
    svc = services(request)
    with svc.session() as session:
        try:
            used = use_admin_link(session, token)
        except AdminLinkRefused as exc:
            session.commit()
            return message_page(
                request,
                404 if exc.problem == LinkProblem.UNKNOWN else 410,
                ("Link werkt niet", "Link does not work"),
                LINK_PROBLEMS[exc.problem],
                (
                    "Open het tabblad Basispoort opnieuw vanuit het LVS: dat maakt een nieuwe "
                    "link.",
                    "Open the Basispoort tab again from the LVS: it makes a new link.",
                ),
            )
        session.commit()
    brin6 = used.brin6
    by = f"LVS link {used.link_id}" + (f" for LVS admin {used.admin}" if used.admin else "")
    return grant(request, brin6, f"school {brin6}, {by}")


@router.get("/school/{brin6}/login")
def login_page(request: Request, brin6: str) -> Response:
    """'Inloggen via Basispoort' for the school's staff with an administrator role."""
    code = canonical_brin6(brin6)
    if code is None:
        return not_yours_page(request, NotYours(None))
    return render(
        request,
        "school/login.html",
        {"brin6": code, "sign_in": sign_in_url("basispoort", f"{RELAY_PREFIX}:{code}")},
    )


@router.post("/school/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    request.session.clear()
    return message_page(
        request,
        200,
        ("Uitgelogd", "Signed out"),
        ("Je bent uitgelogd.", "You are signed out."),
    )


def after_basispoort_sign_in(request: Request, signed_in: SignedIn, brin6: str) -> Response:
    """Staff of this very school with an administrator role get its tab; nobody else."""
    wanted = canonical_brin6(brin6)
    roles = {role.casefold() for role in services(request).settings.web_admin_roles}
    if (
        signed_in.person_kind == "staff"
        and wanted is not None
        and signed_in.brin6 == wanted
        and roles & {role.casefold() for role in signed_in.roles}
    ):
        log.info(
            "school_admin_signed_in", school_id=signed_in.school_id, staff_id=signed_in.person_id
        )
        by = f"school {wanted}, staff {signed_in.person_id} via {signed_in.idp}"
        return grant(request, wanted, by)
    log.warning(
        "school_admin_sign_in_refused",
        school_id=signed_in.school_id,
        person_kind=signed_in.person_kind,
        person_id=signed_in.person_id,
    )
    return message_page(
        request,
        403,
        ("Geen toegang", "No access"),
        (
            "Je bent ingelogd, maar je bent geen beheerder van deze school.",
            "You are signed in, but you are not an administrator of this school.",
        ),
        (
            "Vraag de schoolbeheerder om het tabblad Basispoort voor je te openen.",
            "Ask the school's administrator to open the Basispoort tab for you.",
        ),
    )


def install_access(app: FastAPI) -> None:
    app.include_router(router)
    add_continuation(app, RELAY_PREFIX, after_basispoort_sign_in)
    app.add_exception_handler(NotYours, not_yours_page)  # type: ignore[arg-type]
