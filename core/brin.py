"""BRIN6: the national school code (4 characters) plus the 2-digit location code."""

from __future__ import annotations

import re

from core.errors import KoppelError

_BRIN6 = re.compile(r"^(\d{2}[A-Z0-9]{2})(\d{2})$")


class InvalidBrin(KoppelError):
    """A BRIN6 that is not 2 digits, 2 letters or digits, and a 2-digit location code."""

    hint = "give the 4-character BRIN plus the 2-digit location, e.g. 12AB00"


def parse_brin6(value: str) -> tuple[str, str]:
    """Split '12ab00' into ('12AB', '00'), or raise InvalidBrin saying what is wrong."""
    text = value.strip().upper()
    match = _BRIN6.match(text)
    if not match:
        raise InvalidBrin(f"{value!r} is not a BRIN6 code")
    return match.group(1), match.group(2)
