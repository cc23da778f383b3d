"""The tab's page and its forms: check the connection, add or remove a network, decide a plan.

Every form is posted with its CSRF token and answered with a redirect back to the tab, which
shows what happened (post/redirect/get: a reload never posts twice); only a network that was
refused is answered with the tab itself, the error beside the field and the text kept.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from api.services import services
from api.upstream import on_upstream_threads
from api.web.csrf import require_csrf
from api.web.render import render
from api.web.school.access import Admin, NotYours, SchoolAdmin, tab_path, the_school
from api.web.school.tab import tab_context
from api.web.school.words import NETWORK_PROBLEMS, changes_text
from core.connection import ConnectionCheck
from core.errors import KoppelError, PlanError, SyncBusy
from core.linking import link_school
from core.login.networks import (
    ADMIN_ORIGIN,
    InvalidNetwork,
    NetworkEntry,
    parse_admin_network,
    replace_networks,
    school_networks,
)
from core.models import SchoolNetwork
from core.plans import approve_plan, reject_plan, show_plan
from core.schools import school_by_brin6

log = structlog.get_logger()

FLASH = "school_flash"
# The tab is Basispoort's: a school not linked yet is looked for there.
DEFAULT_SOURCE = "basispoort"
router = APIRouter(prefix="/school/{brin6}/basispoort", include_in_schema=False)
Csrf = [Depends(require_csrf)]


@router.get("")
def tab(request: Request, admin: Admin) -> Response:
    return _render_tab(request, admin)


@router.post("/check", dependencies=Csrf)
async def check(request: Request, admin: Admin) -> Response:
    """'Verbinding instellen/controleren': ask Basispoort, keep the link up to date."""

    def ask() -> ConnectionCheck:
        svc = services(request)
        with svc.session() as session:
            school = school_by_brin6(session, admin.brin6)  # None until the school consents
            source = school.source if school is not None else DEFAULT_SOURCE
            return link_school(session, svc.plugins, admin.brin6, source)

    outcome = await on_upstream_threads(request, ask)
    words = (outcome.sentence_nl, outcome.sentence_en)
    return _back(request, admin, "check", words, status=outcome.status.value)


@router.post("/networks", dependencies=Csrf)
def add_network(
    request: Request,
    admin: Admin,
    network: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    svc = services(request)
    with svc.session() as session:
        school = the_school(session, admin)
        kept = _admin_networks(session, school.id)
        try:
            added = str(parse_admin_network(network))
            if any(entry.network == added for entry in kept):
                return _back(
                    request, admin, "ok", (f"{added} staat al in de lijst.", f"{added} is listed.")
                )
            # Validates the kept ones again too: one stored before a rule existed is named here.
            replace_networks(
                session, school.id, ADMIN_ORIGIN, [*kept, NetworkEntry(added, description)]
            )
        except InvalidNetwork as exc:
            session.rollback()
            return _render_tab(
                request,
                admin,
                status_code=422,
                network_error=_explain(exc, network),
                typed={"network": network, "description": description},
            )
        session.commit()
    log.info("school_network_added", school_id=school.id)
    return _back(request, admin, "ok", (f"{added} is toegevoegd.", f"{added} was added."))


@router.post("/networks/{network_id}/remove", dependencies=Csrf)
def remove_network(request: Request, admin: Admin, network_id: int) -> Response:
    svc = services(request)
    with svc.session() as session:
        school = the_school(session, admin)
        row = session.get(SchoolNetwork, network_id)
        if row is None or row.school_id != school.id:
            raise NotYours(admin.brin6)  # another school's network: as if it did not exist
        if row.origin != ADMIN_ORIGIN:
            return _back(
                request,
                admin,
                "bad",
                (
                    f"{row.network} komt uit {row.origin}: verwijder het daar.",
                    f"{row.network} comes from {row.origin}: remove it there.",
                ),
            )
        gone = row.network
        # Removing needs no validation: even a network stored before today's rules can go.
        session.delete(row)
        session.commit()
    log.info("school_network_removed", school_id=school.id)
    return _back(request, admin, "ok", (f"{gone} is verwijderd.", f"{gone} was removed."))


@router.post("/plans/{plan_id}/approve", dependencies=Csrf)
def approve(request: Request, admin: Admin, plan_id: int) -> Response:
    """Apply exactly the held plan (core/plans.py), recorded as decided by this administrator."""
    svc = services(request)
    with svc.session() as session:
        school_id = _own_plan(session, admin, plan_id)
        try:
            decision = approve_plan(session, svc.plugins, plan_id, by=admin.by)
        except (PlanError, SyncBusy) as exc:
            return _back(request, admin, "bad", _plan_refusal(plan_id, exc))
        except KoppelError:
            log.exception("school_plan_approval_failed", plan_id=plan_id, school_id=school_id)
            return _back(request, admin, "bad", _SOURCE_TROUBLE)
        if decision.applied and decision.run is not None:
            counts = decision.run.counts
            message = (
                f"Plan {plan_id} is goedgekeurd en uitgevoerd: {changes_text(counts, 'nl')}.",
                f"Plan {plan_id} was approved and applied: {changes_text(counts, 'en')}.",
            )
            tone = "ok"
        else:
            message = (
                f"Plan {plan_id} is niet uitgevoerd: de gegevens in Basispoort zijn intussen "
                "veranderd. De school is opnieuw gesynchroniseerd; zie de geschiedenis hieronder.",
                f"Plan {plan_id} was not applied: the data in Basispoort changed since. The "
                "school was synced anew; see the history below.",
            )
            tone = "bad"
    log.info("school_plan_decided", plan_id=plan_id, school_id=school_id, approved=True)
    return _back(request, admin, tone, message)


@router.post("/plans/{plan_id}/reject", dependencies=Csrf)
def reject(request: Request, admin: Admin, plan_id: int) -> Response:
    svc = services(request)
    with svc.session() as session:
        school_id = _own_plan(session, admin, plan_id)
        try:
            reject_plan(session, plan_id, by=admin.by)
        except PlanError as exc:
            return _back(request, admin, "bad", _plan_refusal(plan_id, exc))
    log.info("school_plan_decided", plan_id=plan_id, school_id=school_id, approved=False)
    return _back(
        request,
        admin,
        "ok",
        (
            f"Plan {plan_id} is afgewezen; er is niets veranderd. Staat het in Basispoort morgen "
            "nog zo, dan wordt het opnieuw tegengehouden.",
            f"Plan {plan_id} was rejected; nothing changed. If Basispoort still says the same "
            "tomorrow, it is held again.",
        ),
    )


_SOURCE_TROUBLE = (
    "Basispoort was niet bereikbaar; er is niets veranderd. Probeer het later opnieuw.",
    "Basispoort could not be reached; nothing changed. Try again later.",
)


def _own_plan(session: Any, admin: SchoolAdmin, plan_id: int) -> int:
    """The plan's school id when the plan is this school's; any other plan id is NotYours."""
    school = the_school(session, admin)
    try:
        plan = show_plan(session, plan_id)
    except PlanError:
        raise NotYours(admin.brin6) from None
    if plan["school_id"] != school.id:
        raise NotYours(admin.brin6)
    return school.id


def _plan_refusal(plan_id: int, exc: KoppelError) -> tuple[str, str]:
    if isinstance(exc, SyncBusy):
        return (
            "De school wordt nu gesynchroniseerd. Probeer het over een paar minuten opnieuw.",
            "The school is being synced right now. Try again in a few minutes.",
        )
    return (
        f"Over plan {plan_id} is al beslist, of de school kan nu niet worden gesynchroniseerd.",
        f"Plan {plan_id} has been decided already, or the school cannot be synced now.",
    )


def _admin_networks(session: Any, school_id: int) -> list[NetworkEntry]:
    return [
        NetworkEntry(row.network, row.description)
        for row in school_networks(session, school_id)
        if row.origin == ADMIN_ORIGIN
    ]


def _explain(exc: InvalidNetwork, typed: str) -> tuple[str, str]:
    """The refusal in the page's words; core/login/networks.py made the decision."""
    nl, en = NETWORK_PROBLEMS.get(exc.problem, NETWORK_PROBLEMS["malformed"])
    whole, one = (*exc.suggestions, "", "")[:2] if exc.problem == "host_bits" else ("", "")
    fields = {
        "entry": (exc.entries[0] if exc.entries else typed.strip())[:64],
        "whole": whole,
        "one": one,
        "widest": exc.suggestions[0] if exc.problem == "too_wide" else "",
    }
    return nl.format(**fields), en.format(**fields)


def _back(
    request: Request, admin: SchoolAdmin, tone: str, words: tuple[str, str], **extra: str
) -> RedirectResponse:
    """Back to the tab, which then says ``words`` (Dutch, English) once."""
    request.session[FLASH] = {"tone": tone, "nl": words[0], "en": words[1], **extra}
    return RedirectResponse(tab_path(admin.brin6), status_code=303)


def _render_tab(
    request: Request, admin: SchoolAdmin, status_code: int = 200, **extra: Any
) -> Response:
    svc = services(request)
    with svc.session() as session:
        school = school_by_brin6(session, admin.brin6)
        context = (
            tab_context(session, school, svc.settings) if school is not None else {"school": None}
        )
        page = render(
            request,
            "school/tab.html",
            {
                **context,
                **extra,
                "flash": request.session.pop(FLASH, None),
                "tab_path": tab_path(admin.brin6),
                "brin6": admin.brin6,
                "changes_text": changes_text,
            },
            status_code=status_code,
        )
    return page
