"""The API's request and response bodies (pydantic), as the OpenAPI description shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from core.connection import ConnectionStatus

MAX_HEADER_CHARS = 8192
MAX_HEADERS = 64


class LoginRequest(BaseModel):
    """One login attempt as the LVS saw it."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    source: str = Field(
        default="basispoort",
        pattern=r"^[a-z0-9_-]{1,50}$",
        description="The identity source the login came through.",
    )
    school_ref: str | None = Field(
        default=None, min_length=1, max_length=200, description="Basispoort's instellingRef."
    )
    school_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The source's id of the school (Basispoort's institution id).",
    )
    user_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="The source's id of the user."
    )
    eckid: str | None = Field(default=None, min_length=1, max_length=300, description="ECK iD.")
    peer_address: str = Field(
        max_length=200,
        description="The address of the connection the LVS received the login on (its socket "
        "peer), as it saw it; a port is allowed.",
    )
    headers: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="The forwarding headers the LVS received, e.g. {'x-forwarded-for': "
        "'198.51.100.7, 10.0.0.2', 'forwarded': 'for=198.51.100.7'}; names in any case. Only "
        "X-Forwarded-For and Forwarded are read.",
    )
    at: AwareDatetime | None = Field(
        default=None, description="When the attempt happened, with a time zone; default now."
    )

    @field_validator("headers")
    @classmethod
    def _headers_bounded(cls, headers: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        if len(headers) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        for name, value in headers.items():
            size = len(value) if isinstance(value, str) else sum(len(v) for v in value)
            if size > MAX_HEADER_CHARS:
                raise ValueError(f"header {name[:40]!r} is longer than {MAX_HEADER_CHARS} chars")
        return headers

    @model_validator(mode="after")
    def _identity_complete(self) -> LoginRequest:
        if not self.school_ref and not self.school_id:
            raise ValueError("give the school: school_ref (instellingRef) or school_id")
        if not self.user_id and not self.eckid:
            raise ValueError("give the user: user_id or eckid")
        return self

    def header(self, name: str) -> list[str] | None:
        """Every value of one header, whatever case the LVS wrote its name in."""
        values: list[str] = []
        for key, value in self.headers.items():
            if key.strip().lower() == name:
                values.extend([value] if isinstance(value, str) else value)
        return values or None


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

    network: str = Field(max_length=100, description="CIDR or a single address.")
    description: str | None = Field(default=None, max_length=200)


class NetworksIn(BaseModel):
    """The complete list of the administrator's networks; other origins are not touched."""

    model_config = ConfigDict(extra="forbid")

    networks: list[NetworkIn | str] = Field(max_length=1000)


class NetworkOut(BaseModel):
    network: str
    origin: str = Field(description="'admin' or the identity source that delivered it.")
    description: str | None
    created_at: datetime


class NetworksOut(BaseModel):
    brin6: str
    networks: list[NetworkOut]
