"""The safety budget: how much one sync (and a week of syncs) may change before a person decides."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.errors import ConfigError
from core.settings import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits per kind of row (pupils, staff or groups), as shares of what the school has now.

    A share is always allowed at least its absolute minimum, so a school of 12 pupils may lose
    2 of them (17%) without anyone having to approve it.
    """

    tombstone_share: float
    tombstone_min: int
    update_share: float
    update_min: int
    window_share: float

    def allowed_tombstones(self, size: int) -> int:
        return _allowed(self.tombstone_share, self.tombstone_min, size)

    def allowed_updates(self, size: int) -> int:
        return _allowed(self.update_share, self.update_min, size)

    def allowed_in_window(self, size: int) -> int:
        return _allowed(self.window_share, self.tombstone_min, size)


def _allowed(share: float, minimum: int, size: int) -> int:
    # A share of 1 means "no limit"; anything else rounds down (10% of 25 is 2, not 3).
    if share >= 1:
        return max(size, minimum)
    return max(minimum, math.floor(share * size + 1e-9))


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits in force at a moment: ordinary ones, or the raised ones of the season.

    The season is the school-year rollover (default 15 July to 31 August, local dates), when
    a group 8 leaves and every pupil moves up a group: large changes are normal then.
    ``window_days`` is how far back removals are added up (0: no window).
    """

    normal: Limits
    season: Limits
    season_start: tuple[int, int]  # (month, day)
    season_end: tuple[int, int]
    window_days: int
    zone: ZoneInfo

    def in_season(self, at: datetime) -> bool:
        today = at.astimezone(self.zone).date()
        start, end = (_day(today.year, md) for md in (self.season_start, self.season_end))
        if start <= end:
            return start <= today <= end
        return today >= start or today <= end  # a season across the new year

    def limits_at(self, at: datetime) -> Limits:
        return self.season if self.in_season(at) else self.normal

    @classmethod
    def from_settings(cls, settings: Settings) -> Budget:
        """The budget the KOPPEL_SAFETY_* settings describe; ConfigError for an impossible date."""
        normal = Limits(
            tombstone_share=settings.safety_tombstone_share,
            tombstone_min=settings.safety_tombstone_min,
            update_share=settings.safety_update_share,
            update_min=settings.safety_update_min,
            window_share=settings.safety_window_share,
        )
        # The season only ever raises a limit, never lowers one set higher on purpose.
        season_share = max(settings.safety_season_tombstone_share, normal.tombstone_share)
        season = Limits(
            tombstone_share=season_share,
            tombstone_min=normal.tombstone_min,
            update_share=max(settings.safety_season_update_share, normal.update_share),
            update_min=normal.update_min,
            window_share=max(settings.safety_season_tombstone_share, normal.window_share),
        )
        zone = settings.zone
        return cls(
            normal=normal,
            season=season,
            season_start=_month_day("KOPPEL_SAFETY_SEASON_START", settings.safety_season_start),
            season_end=_month_day("KOPPEL_SAFETY_SEASON_END", settings.safety_season_end),
            window_days=settings.safety_window_days,
            zone=zone,
        )


def _month_day(variable: str, text: str) -> tuple[int, int]:
    month, _, day = text.partition("-")
    try:
        date(2024, int(month), int(day))  # a leap year, so 02-29 is a date
    except ValueError:
        raise ConfigError(f"{variable}: {text!r} is not a date as MM-DD, e.g. 07-15") from None
    return int(month), int(day)


def _day(year: int, month_day: tuple[int, int]) -> date:
    month, day = month_day
    if (month, day) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return date(year, month, day)
