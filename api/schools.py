"""School endpoints: status, connection check, and the networks pupils may log in from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from api.auth import Caller, school_in_scope
from api.problems import SCHOOL_RESPONSES
from api.schemas import (
    ConnectionCheckOut,
    LastSyncOut,
    NetworkOut,
    NetworksIn,
    NetworksOut,
    SchoolCountsOut,
    SchoolStatusOut,
)
from api.services import Services, services
from api.upstream import on_upstream_threads
from core.api_token import ApiToken
from core.connection import ConnectionCheck
from core.linking import link_school
from core.login.networks import ADMIN_ORIGIN, NetworkEntry, replace_networks, school_networks
from core.models import School
from core.schools import get_school, school_by_brin6
from core.status import latest_run, school_counts

router = APIRouter(prefix="/v1/schools", tags=["schools"], responses=SCHOOL_RESPONSES)

Svc = Annotated[Services, Depends(services)]


def find_school(session: Session, caller: ApiToken, brin6: str) -> School:
    """The linked school with this BRIN6 within the caller's schools, or SchoolNotFound (404)."""
    brin6 = school_in_scope(caller, brin6)
    return get_school(
        session,
        brin6,
        hint=f"run the connection check first: POST /v1/schools/{brin6.upper()}/connection-check",
    )


@router.get("/{brin6}/status", response_model=SchoolStatusOut)
def status(brin6: str, svc: Svc, caller: Caller) -> SchoolStatusOut:
    """The school's link (consent, active, merged), its last sync, and what koppel holds."""
    with svc.session() as session:
        school = find_school(session, caller, brin6)
        # One implementation of a school's status: core/status.py ('koppel status' uses it too).
        last = latest_run(session, school.id)
        counts = school_counts(session, school.id)
        return SchoolStatusOut(
            brin6=school.brin6,
            name=school.name,
            source=school.source,
            source_school_id=school.source_school_id,
            consent=school.consent,
            consent_changed_at=school.consent_changed_at,
            active=school.active,
            merged_into=school.merged_into_source_id,
            last_synced_at=school.last_synced_at,
            last_sync=(
                LastSyncOut.model_validate(last, from_attributes=True) if last is not None else None
            ),
            counts=SchoolCountsOut(
                pupils=counts["pupils"]["live"],
                staff=counts["staff"]["live"],
                groups=counts["groups"]["live"],
                networks=counts["networks"],
            ),
        )


@router.post("/{brin6}/connection-check", response_model=ConnectionCheckOut)
async def connection_check(
    request: Request,
    brin6: str,
    svc: Svc,
    caller: Caller,
    source: Annotated[str, Query(pattern=r"^[a-z0-9_-]{1,50}$")] = "basispoort",
) -> ConnectionCheckOut:
    """Ask the identity source about the school; a connected school is linked (or refreshed).

    Always 200 with the outcome (also for "not found" and source failures); the sentences are
    what the school's administrator should read.
    """
    code = school_in_scope(caller, brin6)

    def ask() -> tuple[ConnectionCheck, bool]:
        with svc.session() as session:
            check = link_school(session, svc.plugins, code, source)
            return check, school_by_brin6(session, code) is not None

    check, linked = await on_upstream_threads(request, ask)
    return ConnectionCheckOut(
        brin6=code,
        status=check.status,
        sentence_nl=check.sentence_nl,
        sentence_en=check.sentence_en,
        linked=linked,
    )


@router.get("/{brin6}/networks", response_model=NetworksOut)
def get_networks(brin6: str, svc: Svc, caller: Caller) -> NetworksOut:
    """Every network the school's pupils may log in from, with where each came from."""
    with svc.session() as session:
        return _networks_out(session, find_school(session, caller, brin6))


@router.put("/{brin6}/networks", response_model=NetworksOut)
def put_networks(brin6: str, body: NetworksIn, svc: Svc, caller: Caller) -> NetworksOut:
    """Replace the administrator's networks; networks delivered by a source stay.

    One malformed entry changes nothing: 422 naming every bad entry.
    """
    entries = [
        NetworkEntry(item) if isinstance(item, str) else NetworkEntry(**item.model_dump())
        for item in body.networks
    ]
    with svc.session() as session:
        school = find_school(session, caller, brin6)
        replace_networks(session, school.id, ADMIN_ORIGIN, entries)
        session.commit()
        return _networks_out(session, school)


def _networks_out(session: Session, school: School) -> NetworksOut:
    return NetworksOut(
        brin6=school.brin6,
        networks=[
            NetworkOut(
                network=row.network,
                origin=row.origin,
                description=row.description,
                created_at=row.created_at,
            )
            for row in school_networks(session, school.id)
        ],
    )
