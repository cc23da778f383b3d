"""Which language a page speaks: Dutch, unless the visitor chose English (?lang=en, a cookie)."""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request

Language = Literal["nl", "en"]
LANGUAGE_COOKIE = "koppel_lang"


def language(request: Request) -> Language:
    """?lang= first (the switch on every page), then the cookie it leaves, then Dutch.

    Not Accept-Language: the seed's users expect the LVS's Dutch screens whatever their browser
    is set to; English is a choice.
    """
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    return "en" if chosen == "en" else "nl"
