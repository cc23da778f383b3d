"""The retention job: a school that revoked consent keeps no personal data past its retention.

For every school whose consent was revoked at least ``retention_days`` ago, each pupil and staff
member keeps only what the audit trail needs: koppel's id, the source's id (a pseudonymous
key, also what stops the person being created twice), the school, and the dates (first seen,
left, purged). Names, initials, ECK iD, lasKey, e-mail, end date, roles, year group and
class are cleared; memberships are deleted; groups lose their names and descriptions (which
often name a teacher) and their source key, which may be the name itself ("naam:Groep 3 juf
…") or a free-text lasKey: it becomes "purged:<id>", so a school granted consent again gets
new group rows. The school's networks lose their descriptions ("lokaal van juf …"); its login
audit rows lose the person's id and the client's address. Held plans of the school lose their
stored records (digests and keys). Sync runs stay: they hold counts and reasons only. Nothing
here is a sync: this is the explicit, logged step the data rules ask for.

Cleared values stay in the database's files until they are rewritten: the entry points follow
a purge with core.scrub (see docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import String, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from core.models import (
    Group,
    HeldPlan,
    LoginDenial,
    Pupil,
    PupilSubgroup,
    School,
    SchoolNetwork,
    Staff,
    StaffGroup,
    utcnow,
)

log = structlog.get_logger()

# Never equal to a digest, so a person who comes back (consent granted again) is written anew.
PURGED_HASH = "purged"
# A purged group's source key: its own id after this prefix (unique, and names nobody).
PURGED_KEY_PREFIX = "purged:"

# Personal columns each kind loses; everything else on the row is an id, a key or a date.
_PERSONAL = {
    "eckid": None,
    "las_key": None,
    "first_name": None,
    "prefix": None,
    "last_name": None,
    "initials": None,
}
_PUPIL = {**_PERSONAL, "year_group": None, "group_id": None}
_STAFF = {**_PERSONAL, "email": None, "end_date": None, "roles": []}

_BULK = {"synchronize_session": False}

# What a report counts; a school is due while it has people or groups left to purge (its
# networks and audit rows are cleared with them, not on their own: denied logins of a purged
# school would otherwise make it due again every night).
KINDS = ("pupils", "staff", "groups", "networks", "login_denials")
_DUE_KINDS = ("pupils", "staff", "groups")
# A group purged before keys were cleared has the purged hash but still its old key.
_GROUP_UNPURGED = or_(
    Group.row_hash != PURGED_HASH, ~Group.source_key.startswith(PURGED_KEY_PREFIX)
)
_DENIAL_UNPURGED = or_(LoginDenial.person_id.is_not(None), LoginDenial.client_address.is_not(None))


@dataclass
class PurgeReport:
    """Per purged school (koppel id): rows purged now; ``dry_run`` means nothing was changed."""

    dry_run: bool
    schools: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Were values cleared? Then the database's files still hold them (core.scrub)."""
        return not self.dry_run and bool(self.schools)

    @property
    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(KINDS, 0)
        for counts in self.schools.values():
            for kind, n in counts.items():
                totals[kind] += n
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "schools": {str(k): v for k, v in self.schools.items()},
            "totals": self.totals,
        }


def due_schools(session: Session, now: datetime, retention_days: int) -> list[School]:
    """Schools revoked at least ``retention_days`` ago (an unknown revocation date counts)."""
    cutoff = now - timedelta(days=retention_days)
    return list(
        session.scalars(
            select(School)
            .where(
                School.consent == "revoked",
                or_(School.consent_changed_at.is_(None), School.consent_changed_at <= cutoff),
            )
            .order_by(School.id)
        )
    )


def purge_revoked(
    session: Session,
    now: datetime | None = None,
    retention_days: int = 0,
    *,
    dry_run: bool = False,
) -> PurgeReport:
    """Purge the personal data of every school revoked ``retention_days`` or more ago; commits.

    Each school is purged in its own transaction. With ``dry_run`` it only counts. Logs one
    line per school and one for the whole step (ids and counts only).
    """
    now = now or utcnow()
    report = PurgeReport(dry_run=dry_run)
    for school in due_schools(session, now, retention_days):
        counts = _pending(session, school.id)
        if not any(counts[kind] for kind in _DUE_KINDS):
            continue
        if not dry_run:
            _purge_school(session, school.id, now)
            session.commit()
        report.schools[school.id] = counts
        log.info("retention_school_purged", school_id=school.id, dry_run=dry_run, **counts)
    log.info(
        "retention_purge",
        dry_run=dry_run,
        retention_days=retention_days,
        schools=len(report.schools),
        **report.totals,
    )
    return report


def _pending(session: Session, school_id: int) -> dict[str, int]:
    """Rows of the school that still hold personal data (not purged since last written)."""

    def count(model: Any, *where: Any) -> int:
        query = select(func.count()).select_from(model).where(model.school_id == school_id)
        return session.scalar(query.where(*where)) or 0

    return {
        "pupils": count(Pupil, Pupil.purged_at.is_(None)),
        "staff": count(Staff, Staff.purged_at.is_(None)),
        "groups": count(Group, _GROUP_UNPURGED),
        "networks": count(SchoolNetwork, SchoolNetwork.description.is_not(None)),
        "login_denials": count(LoginDenial, _DENIAL_UNPURGED),
    }


def _leave(session: Session, model: Any, school_id: int, now: datetime) -> None:
    """Tombstone the school's rows of ``model`` still live; an earlier left_at stays."""
    session.execute(
        update(model)
        .where(model.school_id == school_id, model.left_at.is_(None))
        .values(left_at=now)
        .execution_options(**_BULK)
    )


def _purge_school(session: Session, school_id: int, now: datetime) -> None:
    for model, membership, owner, values in (
        (Pupil, PupilSubgroup, PupilSubgroup.pupil_id, _PUPIL),
        (Staff, StaffGroup, StaffGroup.staff_id, _STAFF),
    ):
        people = select(model.id).where(model.school_id == school_id)
        session.execute(delete(membership).where(owner.in_(people)).execution_options(**_BULK))
        _leave(session, model, school_id, now)
        session.execute(
            update(model)
            .where(model.school_id == school_id, model.purged_at.is_(None))
            .values(**values, row_hash=PURGED_HASH, purged_at=now, updated_at=now)
            .execution_options(**_BULK)
        )
    _leave(session, Group, school_id, now)
    session.execute(
        update(Group)
        .where(Group.school_id == school_id, _GROUP_UNPURGED)
        .values(
            source_key=literal(PURGED_KEY_PREFIX) + cast(Group.id, String),
            name=None,
            description=None,
            row_hash=PURGED_HASH,
            updated_at=now,
        )
        .execution_options(**_BULK)
    )
    session.execute(
        update(SchoolNetwork)
        .where(SchoolNetwork.school_id == school_id, SchoolNetwork.description.is_not(None))
        .values(description=None)
        .execution_options(**_BULK)
    )
    session.execute(
        update(LoginDenial)
        .where(LoginDenial.school_id == school_id, _DENIAL_UNPURGED)
        .values(person_id=None, client_address=None)
        .execution_options(**_BULK)
    )
    # The stored data no longer is what the source served at its stamp: fetch in full next time.
    school = session.get(School, school_id)
    if school is not None:
        school.source_mutated_at = None
    session.execute(
        update(HeldPlan)
        .where(HeldPlan.school_id == school_id)
        .values(plan={})
        .execution_options(**_BULK)
    )
    session.execute(
        update(HeldPlan)
        .where(HeldPlan.school_id == school_id, HeldPlan.status == "held")
        .values(status="stale", decided_at=now, decided_by="personal data purged")
        .execution_options(**_BULK)
    )
