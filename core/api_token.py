"""An API bearer token and the schools it may ask about, as KOPPEL_API_TOKENS lists them."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

from core.brin import InvalidBrin, parse_brin6

# A bearer token travels in an HTTP header: anything but visible ASCII there can never match.
_TOKEN_TEXT = re.compile(r"[!-~]{16,}")


class ApiToken(BaseModel):
    """One API bearer token and the schools (BRIN6 codes) it may ask about, or all of them.

    In KOPPEL_API_TOKENS a plain string is a token for all schools; an object
    ``{"token": "...", "schools": ["12AB00", ...]}`` limits it to those schools ("all" for all).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr
    schools: Literal["all"] | tuple[str, ...]

    @model_validator(mode="before")
    @classmethod
    def _plain_token_is_for_all_schools(cls, value: object) -> object:
        if isinstance(value, str):
            return {"token": value, "schools": "all"}
        if not isinstance(value, dict | ApiToken):
            raise ValueError('give a token as a string or as {"token": "...", "schools": [...]}')
        return value

    @field_validator("token")
    @classmethod
    def _token_can_match(cls, token: SecretStr) -> SecretStr:
        if not _TOKEN_TEXT.fullmatch(token.get_secret_value()):
            raise ValueError(
                "every API token needs at least 16 characters, all visible ASCII (no spaces)"
            )
        return token

    @field_validator("schools")
    @classmethod
    def _schools_are_brin6(cls, schools: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(schools, str):
            return schools
        if not schools:
            raise ValueError('a token for no school: list its BRIN6 codes, or "all"')
        try:
            return tuple(sorted({"".join(parse_brin6(code)) for code in schools}))
        except InvalidBrin as exc:  # names the code and shows one that is right
            raise ValueError(str(exc)) from None

    def allows(self, brin6: str) -> bool:
        """Whether this token may ask about the school with this (canonical) BRIN6."""
        return self.schools == "all" or brin6 in self.schools

    def __repr__(self) -> str:  # never the token itself ('koppel config' prints settings)
        return f"ApiToken(***, schools={self.schools!r})"
