"""Database models (SQLAlchemy 2, typed): schools, groups, people, memberships, networks, runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

if TYPE_CHECKING:
    from core.snapshot import SchoolInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Stable constraint names, so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class School(Base):
    """A school location (BRIN + location code) and its link to an identity source."""

    __tablename__ = "school"
    __table_args__ = (
        UniqueConstraint("brin", "location_code"),
        UniqueConstraint("source", "source_school_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brin: Mapped[str] = mapped_column(String(4))
    location_code: Mapped[str] = mapped_column(String(2))
    name: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(50))
    source_school_id: Mapped[str] = mapped_column(String(64))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    # consent: "granted" | "revoked" | "none"; changed_at tells when koppel learnt it.
    consent: Mapped[str] = mapped_column(String(16), default="none")
    consent_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    merged_into_source_id: Mapped[str | None] = mapped_column(String(64))
    source_mutated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The lease: who may sync this school until when; lease_token fences a lapsed holder.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_token: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def brin6(self) -> str:
        return f"{self.brin}{self.location_code}"

    @classmethod
    def granted_from(cls, info: SchoolInfo, source: str, now: datetime) -> School:
        """A school to link as its source describes it, with consent (a source serves a
        school's data only with it); ``info`` must give the school's BRIN and location."""
        assert info.brin and info.location_code, "a school is linked by its BRIN6"
        return cls(
            brin=info.brin.upper(),
            location_code=info.location_code,
            name=info.name,
            source=source,
            source_school_id=info.source_school_id,
            source_ref=info.ref,
            consent="granted",
            consent_changed_at=now,
            active=info.active,
            merged_into_source_id=info.merged_into,
        )

    @hybrid_property
    def syncable(self) -> bool:
        """Is the school synced? Linked with consent, active at its source, not merged."""
        return self.consent == "granted" and self.active and self.merged_into_source_id is None

    @syncable.inplace.expression
    @classmethod
    def _syncable(cls) -> Any:
        return and_(
            cls.consent == "granted", cls.active.is_(True), cls.merged_into_source_id.is_(None)
        )


class Group(Base):
    """A group (class) or sub-group of a school, keyed by the source's key within its kind."""

    __tablename__ = "school_group"
    __table_args__ = (UniqueConstraint("school_id", "source", "kind", "source_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    source: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(10))  # "group" | "subgroup"
    source_key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    year_group: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    row_hash: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class _Person:
    """Columns every synced person has; keyed by (school, source, source id)."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    source: Mapped[str] = mapped_column(String(50))
    source_id: Mapped[str] = mapped_column(String(64))
    eckid: Mapped[str | None] = mapped_column(String(300))
    las_key: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(200))
    prefix: Mapped[str | None] = mapped_column(String(50))
    last_name: Mapped[str | None] = mapped_column(String(200))
    initials: Mapped[str | None] = mapped_column(String(50))
    # A digest of every synced field and membership: equal hash means nothing to write.
    row_hash: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when personal data was purged (consent revoked, retention over): ids and dates remain.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Pupil(_Person, Base):
    """A pupil (leerling); ``group_id`` is their class."""

    __tablename__ = "pupil"
    __table_args__ = (
        UniqueConstraint("school_id", "source", "source_id"),
        Index("ix_pupil_eckid", "eckid"),
    )

    year_group: Mapped[int | None] = mapped_column(Integer)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("school_group.id"))


class Staff(_Person, Base):
    """A staff member (medewerker) with their roles as the source names them."""

    __tablename__ = "staff"
    __table_args__ = (
        UniqueConstraint("school_id", "source", "source_id"),
        Index("ix_staff_eckid", "eckid"),
    )

    email: Mapped[str | None] = mapped_column(String(320))
    end_date: Mapped[date | None] = mapped_column(Date)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)


class PupilSubgroup(Base):
    """A pupil's membership of a sub-group."""

    __tablename__ = "pupil_subgroup"

    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("school_group.id"), primary_key=True)


class StaffGroup(Base):
    """A staff member's membership of a group or sub-group."""

    __tablename__ = "staff_group"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("school_group.id"), primary_key=True)


class SchoolNetwork(Base):
    """A network pupils of the school may log in from; ``origin`` says who registered it."""

    __tablename__ = "school_network"
    __table_args__ = (UniqueConstraint("school_id", "network", "origin"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    network: Mapped[str] = mapped_column(String(64))  # canonical CIDR, IPv4 or IPv6
    origin: Mapped[str] = mapped_column(String(50))  # "admin" or a source name
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Outcome(StrEnum):
    """How a sync run ended (or that it is running); stored as its string value."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    UNCHANGED = "unchanged"  # the source's change stamp did not move: nothing fetched
    SKIPPED = "skipped"  # no consent, inactive, merged, ...: the reason is in the run's error
    HELD = "held"  # over the safety budget: the plan waits for a person (core/plans.py)
    FAILED = "failed"


_RUNNING_ONLY = text("outcome = 'running'")  # the partial index's rows, on either backend


class SyncRun(Base):
    """One attempt to sync one school: when, by whom, how it ended, what it changed."""

    __tablename__ = "sync_run"
    # A school gains a run every night and they are kept, so every per-school question must
    # stay an index probe however long the history: the latest run (ordered by started_at,
    # then id) is the first entry read backwards, and "is one running?" reads only running rows.
    __table_args__ = (
        Index("ix_sync_run_school_latest", "school_id", "started_at", "id"),
        Index(
            "ix_sync_run_running",
            "school_id",
            postgresql_where=_RUNNING_ONLY,
            sqlite_where=_RUNNING_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"))
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # nightly, manual, ...
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16), default=Outcome.RUNNING)  # an Outcome
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class HeldPlan(Base):
    """A sync plan over the safety budget, stored until a person approves or rejects it."""

    __tablename__ = "held_plan"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("school.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_run.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="held")  # held|approved|rejected|stale
    plan_hash: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids and keys, no names
    source_mutated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))


class LoginDenial(Base):
    """Audit of a denied (or, in shadow mode, would-be denied) login: ids only, no names."""

    __tablename__ = "login_denial"
    __table_args__ = (Index("ix_login_denial_school_at", "school_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("school.id"))
    person_kind: Mapped[str | None] = mapped_column(String(10))  # pupil | staff
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    role: Mapped[str | None] = mapped_column(String(50))
    policy: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    client_address: Mapped[str | None] = mapped_column(String(64))
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)


class SchedulerTick(Base):
    """A claimed scheduler tick (e.g. one night): the unique key stops two schedulers firing it."""

    __tablename__ = "scheduler_tick"
    __table_args__ = (UniqueConstraint("job", "tick"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(50))  # "nightly", "consent", ...
    tick: Mapped[str] = mapped_column(String(40))  # e.g. the night's date, "2026-11-29"
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)


class SchoolAdminLink(Base):
    """A one-time link into a school's Basispoort tab, minted by the LVS; only its hash is kept."""

    __tablename__ = "school_admin_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # By BRIN6, not school id: the tab of a school not linked yet shows the connection check.
    brin6: Mapped[str] = mapped_column(String(6))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    admin: Mapped[str | None] = mapped_column(String(100))  # the LVS's id of its administrator
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Operator(Base):
    """A member of the publisher's staff who may sign in to the console (api/console)."""

    __tablename__ = "operator"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, parameters included
    # Failed sign-ins since the last good one (or the last lock-out), and the lock-out's end.
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OperatorAction(Base):
    """The audit of the console: who did what to which id, when, and how it ended. No pupils."""

    __tablename__ = "operator_action"
    __table_args__ = (Index("ix_operator_action_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The name signed in with (for a refused sign-in: the name typed, which may be no account).
    operator: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # sign_in, sign_out, approve, reject, ...
    target: Mapped[str | None] = mapped_column(String(200))  # "plan 12", "school 12AB00", ...
    outcome: Mapped[str] = mapped_column(String(20))  # done, refused, failed
    detail: Mapped[str | None] = mapped_column(Text)


# OpenID Connect provider (core/oidc, api/oidc): the LVS's clients, signing keys and one-time codes.


class OidcClient(Base):
    """An LVS registered to sign people in through koppel; only a hash of its secret is kept."""

    __tablename__ = "oidc_client"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_salt: Mapped[str] = mapped_column(String(32))  # hex
    secret_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of salt + secret
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    initiate_login_uri: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OidcSigningKey(Base):
    """A private key that signs id_tokens: the newest unretired one signs, retired ones verify."""

    __tablename__ = "oidc_signing_key"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[str] = mapped_column(Text)  # JWK JSON, or encrypted: core/oidc/sealing.py
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcPairwiseKey(Base):
    """The one key that makes a client's ``sub`` for a person (HMAC); made by the migration."""

    __tablename__ = "oidc_pairwise_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))  # hex, 32 bytes


class OidcPendingAuthorization(Base):
    """An LVS's authorization request waiting for the person to sign in at the IdP."""

    __tablename__ = "oidc_pending_authorization"
    __table_args__ = (Index("ix_oidc_pending_authorization_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random; in the relay state
    client_id: Mapped[int] = mapped_column(ForeignKey("oidc_client.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(500))
    state: Mapped[str | None] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OidcCode(Base):
    """A one-time authorization code (its hash) and what the id_token will say."""

    __tablename__ = "oidc_code"
    __table_args__ = (
        Index("ix_oidc_code_expires", "expires_at"),
        Index("ix_oidc_code_client_nonce", "client_id", "nonce"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oidc_client.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)  # ids, kind, BRIN6, roles, groups
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcAccessToken(Base):
    """An access token for the userinfo endpoint (its hash), revoked when its code is replayed."""

    __tablename__ = "oidc_access_token"
    __table_args__ = (Index("ix_oidc_access_token_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("oidc_code.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oidc_client.id"))
    scope: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- Single sign-on (core/saml): what replicas must agree on, kept until it expires. ------------


class SamlRequest(Base):
    """An AuthnRequest koppel sent: its id is accepted once, as InResponseTo, until it expires."""

    __tablename__ = "saml_request"
    __table_args__ = (UniqueConstraint("idp", "request_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idp: Mapped[str] = mapped_column(String(50))
    request_id: Mapped[str] = mapped_column(String(100))
    relay_state: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SamlAssertionSeen(Base):
    """An assertion id already used: the unique key refuses its replay on every replica."""

    __tablename__ = "saml_assertion_seen"
    __table_args__ = (UniqueConstraint("idp", "assertion_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idp: Mapped[str] = mapped_column(String(50))
    assertion_id: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
