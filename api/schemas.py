"""The API's request and response bodies (pydantic), as the OpenAPI description shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from core.connection import ConnectionStatus

MAX_HEADER_CHARS = 8192
MAX_HEADERS = 64
# The forwarding headers koppel reads (lower case); see LoginRequest.header.
READ_HEADERS = ("x-forwarded-for", "forwarded")
# How far a login's ``at`` may be from the server's clock: room for clocks kept by NTP and a
# slow request, too little to move a login past a staff member's end date.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _storable(value: str) -> str:
    # The database cannot hold NUL (PostgreSQL) or a lone surrogate (no UTF-8 for it): refuse
    # them here, as bad input, before they get as far as a query.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode, without lone surrogates (\\ud800)") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]


def header_key(name: str) -> str:
    """The name by which a header is known, however the LVS wrote it."""
    return name.strip().lower()


# A header's value: one line, or several lines of the same header in the order received.
HeaderLines = Annotated[
    list[Text],
    BeforeValidator(
        lambda v: [v] if isinstance(v, str) else v, json_schema_input_type=str | list[str]
    ),
]


class LoginRequest(BaseModel):
    """One login attempt as the LVS saw it."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    source: str = Field(
        default="basispoort",
        pattern=r"^[a-z0-9_-]{1,50}$",
        description="The identity source the login came through.",
    )
    school_ref: Text | None = Field(
        default=None, min_length=1, max_length=200, description="Basispoort's instellingRef."
    )
    school_id: Text | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The source's id of the school (Basispoort's institution id).",
    )
    user_id: Text | None = Field(
        default=None, min_length=1, max_length=64, description="The source's id of the user."
    )
    eckid: Text | None = Field(default=None, min_length=1, max_length=300, description="ECK iD.")
    peer_address: Text = Field(
        max_length=200,
        description="The address of the connection the LVS received the login on (its socket "
        "peer), as it saw it; a port is allowed.",
    )
    headers: dict[Text, HeaderLines] = Field(
        default_factory=dict,
        description="The forwarding headers the LVS received, e.g. {'x-forwarded-for': "
        "'198.51.100.7, 10.0.0.2', 'forwarded': 'for=198.51.100.7'}; names in any case, but "
        "each of those two at most once (several lines of one header: a list, in the order "
        "received). Only X-Forwarded-For and Forwarded are read.",
    )
    at: AwareDatetime | None = Field(
        default=None,
        description="When the LVS received the login, with a time zone; default: the server's "
        f"clock. Refused (422) when more than {MAX_CLOCK_SKEW.seconds // 60} minutes away from "
        "the server's clock, so a caller cannot move a login to another day.",
    )

    @field_validator("headers")
    @classmethod
    def _headers_bounded(cls, headers: dict[str, list[str]]) -> dict[str, list[str]]:
        if len(headers) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        for name, lines in headers.items():
            if sum(len(line) for line in lines) > MAX_HEADER_CHARS:
                raise ValueError(f"header {name[:40]!r} is longer than {MAX_HEADER_CHARS} chars")
        for wanted in READ_HEADERS:
            names = [name for name in headers if header_key(name) == wanted]
            if len(names) > 1:
                # A JSON object's key order says nothing about which line came first, so
                # joining them could put a client's forged value where the proxy's belongs.
                raise ValueError(
                    f"header {wanted!r} is given {len(names)} times in different case "
                    f"({', '.join(repr(n[:40]) for n in names)}): give it once, with several "
                    "values as a list in the order received"
                )
        return headers

    @field_validator("at")
    @classmethod
    def _near_the_server_clock(cls, at: datetime | None) -> datetime | None:
        now = datetime.now(UTC)
        # Aware datetimes subtract without a conversion, so even year 9999 cannot overflow here.
        if at is not None and abs(at - now) > MAX_CLOCK_SKEW:
            raise ValueError(
                f"must be within {MAX_CLOCK_SKEW.seconds // 60} minutes of the server's clock "
                f"(now {now:%Y-%m-%dT%H:%M:%SZ}): send the current time, or leave at out to use "
                "the server's clock"
            )
        return at

    @model_validator(mode="after")
    def _identity_complete(self) -> LoginRequest:
        if not self.school_ref and not self.school_id:
            raise ValueError("give the school: school_ref (instellingRef) or school_id")
        if not self.user_id and not self.eckid:
            raise ValueError("give the user: user_id or eckid")
        return self

    def header(self, name: str) -> list[str] | None:
        """Every value of one header (of READ_HEADERS), whatever case the LVS wrote its name in."""
        for key, value in self.headers.items():
            if header_key(key) == name:
                return value or None
        return None


class DenialOut(BaseModel):
    policy: str
    reason_nl: str
    reason_en: str


class PersonOut(BaseModel):
    kind: Literal["pupil", "staff"]
    id: int = Field(description="koppel's id of the pupil or staff member.")


class SchoolRefOut(BaseModel):
    brin6: str


class LoginDecisionOut(BaseModel):
    """Let the person in when ``allowed``; otherwise show them ``denials[0].reason_nl``."""

    allowed: bool
    person: PersonOut | None
    school: SchoolRefOut | None
    denials: list[DenialOut]
    shadow_denials: list[DenialOut] = Field(
        description="What policies in shadow mode would have denied; recorded, not enforced."
    )
    client_address: str | None = Field(
        description="The client address koppel derived; null when it could not be determined."
    )
    client_address_via: Literal["peer", "x-forwarded-for", "forwarded"]


class LastSyncOut(BaseModel):
    outcome: str
    started_at: datetime
    finished_at: datetime | None


class SchoolCountsOut(BaseModel):
    pupils: int
    staff: int
    groups: int
    networks: int


class SchoolStatusOut(BaseModel):
    brin6: str
    name: str | None
    source: str
    source_school_id: str
    consent: str
    consent_changed_at: datetime | None
    active: bool
    merged_into: str | None
    last_synced_at: datetime | None
    last_sync: LastSyncOut | None
    counts: SchoolCountsOut


class ConnectionCheckOut(BaseModel):
    brin6: str
    status: ConnectionStatus
    sentence_nl: str
    sentence_en: str
    linked: bool = Field(description="Whether koppel now holds a link to this school.")


class NetworkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: Text = Field(max_length=100, description="CIDR or a single address.")
    description: Text | None = Field(default=None, max_length=200)


class NetworksIn(BaseModel):
    """The complete list of the administrator's networks; other origins are not touched."""

    model_config = ConfigDict(extra="forbid")

    networks: list[NetworkIn | Text] = Field(max_length=1000)


class NetworkOut(BaseModel):
    network: str
    origin: str = Field(description="'admin' or the identity source that delivered it.")
    description: str | None
    created_at: datetime


class NetworksOut(BaseModel):
    brin6: str
    networks: list[NetworkOut]
