"""Times as people read them: Europe/Amsterdam, to the minute, with the month's name."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from api.web.i18n import Language

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONTHS = {
    "nl": (
        "januari", "februari", "maart", "april", "mei", "juni",
        "juli", "augustus", "september", "oktober", "november", "december",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip


def readable_time(moment: datetime | None, lang: Language = "nl") -> str:
    """'7 december 2026, 01:30' in Amsterdam time; naive datetimes are UTC (as koppel stores)."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(AMSTERDAM)
    return f"{local.day} {MONTHS[lang][local.month - 1]} {local.year}, {local:%H:%M}"
