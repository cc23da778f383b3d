"""What every API replica must agree on: the sign-ins koppel started and the assertions it used."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Insert, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.models import SamlAssertionSeen, SamlRequest
from core.saml.refusals import Refusal, SamlRefused

RELAY_STATE_MAX = 200


def remember_request(
    session: Session, idp: str, request_id: str, relay_state: str, expires_at: datetime
) -> None:
    """Store a sent AuthnRequest's id (and the relay state it carried). Flushes only."""
    session.add(
        SamlRequest(
            idp=idp,
            request_id=request_id,
            relay_state=relay_state[:RELAY_STATE_MAX],
            expires_at=expires_at,
        )
    )
    session.flush()


def take_request(session: Session, idp: str, request_id: str, now: datetime) -> str:
    """Use up a sent request: its relay state, or SamlRefused when koppel did not send it (or
    it expired, or was answered already). One DELETE, so two replicas cannot both take it."""
    row = session.execute(_TAKE_REQUEST, {"idp": idp, "request_id": request_id, "now": now}).first()
    if row is None:
        raise SamlRefused(Refusal.UNKNOWN_REQUEST)
    return row[0]


# Built once, the values bound at execution: a statement built per call costs a login more
# CPU than the round trip it sends (docs/benchmarks.md, "Full logins").
_REQUESTS = SamlRequest.__table__
_TAKE_REQUEST = (
    delete(_REQUESTS)
    .where(
        _REQUESTS.c.idp == bindparam("idp"),
        _REQUESTS.c.request_id == bindparam("request_id"),
        _REQUESTS.c.expires_at > bindparam("now"),
    )
    .returning(_REQUESTS.c.relay_state)
)


def record_assertion(session: Session, idp: str, assertion_id: str, expires_at: datetime) -> None:
    """Remember an assertion id until it expires; SamlRefused(REPLAYED) when it was used already.

    The unique key decides, not a read before the write: two replicas receiving the same
    assertion at once cannot both accept it. ``ON CONFLICT DO NOTHING`` leaves the caller's
    transaction usable without a savepoint (two round trips less); no row back means a replay.
    """
    statement = _record_statement(session.get_bind().dialect.name)
    values = {"idp": idp, "assertion_id": assertion_id[:200], "expires_at": expires_at}
    if session.execute(statement, values).first() is None:
        raise SamlRefused(Refusal.REPLAYED)


@cache
def _record_statement(dialect_name: str) -> Insert:
    """The INSERT … ON CONFLICT DO NOTHING of an assertion id, once per dialect (a Core
    statement on the table: no ORM bulk-insert machinery per login)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    seen = SamlAssertionSeen.__table__
    return (
        dialect.insert(seen)
        .on_conflict_do_nothing(index_elements=["idp", "assertion_id"])
        .returning(seen.c.id)
    )


def request_expiry(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)
