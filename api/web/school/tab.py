"""The Basispoort tab itself: the school's link, syncs, networks, refused logins and held plans."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.web.school.words import CONSENT, KINDS, PERSON_KINDS, PLAN_ACTIONS, RUN_OUTCOMES
from core.login.audit import DenialRecord, recent_denials
from core.login.networks import ADMIN_ORIGIN, school_networks
from core.models import Group, Pupil, School, Staff, utcnow
from core.plans import list_plans, show_plan
from core.settings import Settings
from core.status import latest_run, recent_runs, school_counts

HISTORY_RUNS = 30
DENIAL_DAYS = 7
DENIALS_SHOWN = 100
PEOPLE = {"pupils": Pupil, "staff": Staff}


def tab_context(session: Session, school: School, settings: Settings) -> dict[str, Any]:
    """Everything the tab shows about one school (names of its own people included)."""
    now = utcnow()
    last = latest_run(session, school.id)
    runs = recent_runs(session, school.id, HISTORY_RUNS)
    since = now - timedelta(days=DENIAL_DAYS)
    denials = [d for d in recent_denials(session, school.id, DENIALS_SHOWN) if d.at >= since]
    return {
        "school": school,
        "syncable": _why_not_synced(school),
        "last_run": last,
        "next_night": _next_night(settings, now, last.started_at if last else None),
        "counts": school_counts(session, school.id),
        "runs": runs,
        "networks": school_networks(session, school.id),
        "admin_origin": ADMIN_ORIGIN,
        "denials": _with_names(session, denials),
        "denial_days": DENIAL_DAYS,
        "plans": [_plan_view(session, plan["id"]) for plan in _held_plans(session, school.id)],
        "consent_words": CONSENT.get(school.consent, (school.consent, school.consent)),
        "outcome_words": lambda outcome: RUN_OUTCOMES.get(outcome, (outcome, outcome)),
        "kind_words": lambda kind: KINDS.get(kind, (kind, kind)),
        "person_words": lambda kind: PERSON_KINDS.get(kind, (kind, kind)),
    }


def _why_not_synced(school: School) -> tuple[str, str] | None:
    """Why the nightly sync leaves the school out (None: it is synced every night)."""
    if school.consent != "granted":
        return (
            "De school heeft (nog) geen toestemming verleend in Basispoort.",
            "The school has not granted permission in Basispoort (yet).",
        )
    if school.merged_into_source_id:
        return (
            "De school is in Basispoort gefuseerd met een andere school.",
            "The school has merged into another school in Basispoort.",
        )
    if not school.active:
        return ("De school staat in Basispoort op inactief.", "The school is inactive there.")
    return None


def _next_night(
    settings: Settings, now: datetime, last_started: datetime | None
) -> tuple[datetime, datetime]:
    """The next nightly window the school will be synced in (the scheduler's window settings).

    Tonight's window while it is open, unless the school has had its run in it already.
    """
    zone = settings.zone
    start_at = time.fromisoformat(settings.scheduler_window_start)
    end_at = time.fromisoformat(settings.scheduler_window_end)
    today = now.astimezone(zone).date()
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        start = datetime.combine(day, start_at, tzinfo=zone)
        end_day: date = day if end_at > start_at else day + timedelta(days=1)
        end = datetime.combine(end_day, end_at, tzinfo=zone)
        if end <= now or (start <= now and last_started is not None and last_started >= start):
            continue
        return start, end
    raise AssertionError("a window opens every day")  # pragma: no cover


def _with_names(session: Session, denials: list[DenialRecord]) -> list[dict[str, Any]]:
    """Each refused login with the person's name: the school may see its own people."""
    names = _names_of(
        session, ((d.person_kind, d.person_id) for d in denials if d.person_id is not None)
    )
    return [
        {"denial": d, "name": names.get((_kind_key(d.person_kind), d.person_id or 0))}
        for d in denials
    ]


def _kind_key(kind: str | None) -> str:
    return {"pupil": "pupils"}.get(kind or "", kind or "")


def _held_plans(session: Session, school_id: int) -> list[dict[str, Any]]:
    return [plan for plan in list_plans(session) if plan["school_id"] == school_id]


def _plan_view(session: Session, plan_id: int) -> dict[str, Any]:
    """A held plan with, per kind and action, who or which group it concerns, by name."""
    plan = show_plan(session, plan_id)
    records = plan.get("records") or {}
    changes = []
    for kind in ("pupils", "staff", "groups"):
        for action, items in (records.get(kind) or {}).items():
            if not items:
                continue
            ids = [int(item["id"]) for item in items if item.get("id") is not None]
            names = sorted(_names_of(session, ((kind, i) for i in ids)).values())
            changes.append(
                {
                    "kind": kind,
                    "action": PLAN_ACTIONS.get(action, (action, action)),
                    "count": len(items),
                    "names": names,
                }
            )
    return {**plan, "changes": changes, "created_at_dt": datetime.fromisoformat(plan["created_at"])}


def _names_of(
    session: Session, people: Iterable[tuple[str | None, int]]
) -> dict[tuple[str, int], str]:
    """Display names by (kind, id); kinds are 'pupil(s)', 'staff' or 'groups'."""
    wanted: dict[str, set[int]] = {}
    for kind, person_id in people:
        wanted.setdefault(_kind_key(kind), set()).add(person_id)
    names: dict[tuple[str, int], str] = {}
    for kind, ids in wanted.items():
        if kind == "groups":
            rows = session.execute(select(Group.id, Group.name).where(Group.id.in_(ids)))
            names.update(((kind, gid), name or f"#{gid}") for gid, name in rows)
        elif kind in PEOPLE:
            model = PEOPLE[kind]
            rows = session.execute(
                select(model.id, model.first_name, model.prefix, model.last_name).where(
                    model.id.in_(ids)
                )
            )
            for pid, *parts in rows:
                names[(kind, pid)] = " ".join(p for p in parts if p) or f"#{pid}"
    return names
