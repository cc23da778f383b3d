"""One-time links into a school's Basispoort tab: the LVS mints one, its administrator uses it once.

The token travels in the link only; the database keeps its SHA-256 (the token is 256 random
bits, so a fast hash is enough), when it expires and when it was used. Using it is one guarded
UPDATE, so two browsers racing with the same link cannot both get in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.errors import KoppelError
from core.models import SchoolAdminLink, utcnow

log = structlog.get_logger()

LINK_LIFETIME = timedelta(minutes=1)
# Used and expired links are of no use after this; minting sweeps them away.
KEEP_SPENT = timedelta(days=1)
ADMIN_MAX = 100


class LinkProblem(StrEnum):
    """Why a link did not open the tab."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


class AdminLinkRefused(KoppelError):
    """A one-time link that was unknown, already used or expired."""

    hint = "ask the LVS for a new link: open the school's Basispoort tab there again"

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(f"the one-time link is {problem.value}")
        self.problem = problem


@dataclass(frozen=True, slots=True)
class AdminLinkUse:
    """A link that was just used: for which school, and whom the LVS minted it for."""

    link_id: int
    brin6: str
    admin: str | None


def mint_admin_link(
    session: Session, brin6: str, admin: str | None = None, now: datetime | None = None
) -> str:
    """A new one-time token for the tab of the school with this (canonical) BRIN6, valid
    LINK_LIFETIME; flushes, the caller commits."""
    now = now or utcnow()
    session.execute(delete(SchoolAdminLink).where(SchoolAdminLink.expires_at < now - KEEP_SPENT))
    token = secrets.token_urlsafe(32)
    link = SchoolAdminLink(
        brin6=brin6,
        token_hash=_hash(token),
        admin=(admin or None) and admin[:ADMIN_MAX],
        created_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(link)
    session.flush()
    log.info("admin_link_minted", brin6=brin6, link_id=link.id)
    return token


def use_admin_link(session: Session, token: str, now: datetime | None = None) -> AdminLinkUse:
    """Mark the link used and say for which school, or AdminLinkRefused; caller commits."""
    now = now or utcnow()
    link = session.scalar(select(SchoolAdminLink).where(SchoolAdminLink.token_hash == _hash(token)))
    if link is None:
        raise AdminLinkRefused(LinkProblem.UNKNOWN)
    taken = session.execute(
        update(SchoolAdminLink)
        .where(
            SchoolAdminLink.id == link.id,
            SchoolAdminLink.used_at.is_(None),
            SchoolAdminLink.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(link)
        problem = LinkProblem.USED if link.used_at is not None else LinkProblem.EXPIRED
        log.warning("admin_link_refused", link_id=link.id, problem=problem.value)
        raise AdminLinkRefused(problem)
    log.info("admin_link_used", brin6=link.brin6, link_id=link.id)
    return AdminLinkUse(link.id, link.brin6, link.admin)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
