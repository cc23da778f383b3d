"""OneRoster rostering data in the CSV binding's tables, whichever way it arrived (zip or REST).

Both sources turn what they read into these rows (column names as in the 1EdTech OneRoster 1.2
CSV binding), so one module, school.py, decides who is a pupil, who is staff and what a group
is, for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

Row = dict[str, str]


@dataclass(frozen=True, slots=True)
class Rostering:
    """The tables of one zip or one REST fetch; ``roles`` is None when the roles live in
    users.csv (OneRoster 1.1 style).

    ``origin`` names where the tables came from in errors (the zip's name, the REST service);
    ``place(table, index)`` names the row ``index`` (0-based) of a table (a CSV line, a record).
    Neither ever holds a value read from the data: that is personal data.
    """

    origin: str
    place: Callable[[str, int], str]
    stamp: datetime | None
    orgs: list[Row]
    users: list[Row]
    roles: list[Row] | None
    classes: list[Row]
    enrollments: list[Row]
    academic_sessions: list[Row]
