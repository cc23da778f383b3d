"""The simulated Basispoort world: every school, deterministic from a seed, changing night by night.

Only the schools' headers live in memory. A school's people are built when first asked for, from
(seed, school), then brought up to date by replaying its nights and the edits tests made to it;
a bounded cache keeps the most recently used schools. So a 6,500-school world costs little until
it is read, and a night costs nothing until a school is read again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from plugins.basispoort.simulator import edits, payloads
from plugins.basispoort.simulator.churn import apply_night
from plugins.basispoort.simulator.errors import UnknownSchool
from plugins.basispoort.simulator.population import build_contents, school_rng
from plugins.basispoort.simulator.schools import build_headers
from plugins.basispoort.simulator.state import SchoolContents, SchoolHeader

DEFAULT_START = date(2025, 9, 1)
MORNING = time(8, 0, tzinfo=UTC)  # the clock stands here after each night
NIGHT = time(2, 0, tzinfo=UTC)  # nightly changes land between 02:00 and 05:00
KINDS = (
    "consented", "no_consent", "inactive", "merged", "merge_target", "second_location", "quiet",
    "no_networks", "largest",
)  # fmt: skip
_FIXED_KINDS = ("merge_target", "second_location", "quiet", "no_networks")


@dataclass(frozen=True, slots=True)
class _Edit:
    night: int  # nights that had passed when the edit was made
    stamp: datetime
    op: edits.EditOp


class World:
    """A deterministic Basispoort: ``World(seed=7, schools=12)`` is the same world in every run."""

    def __init__(
        self,
        seed: int = 1,
        schools: int = 20,
        sizes: tuple[int, int] = (20, 400),
        *,
        start: date = DEFAULT_START,
        cache_size: int = 64,
    ) -> None:
        self.seed = seed
        self.sizes = sizes
        self._start = datetime.combine(start, MORNING)
        self._headers = build_headers(seed, schools, sizes, self._start)
        self._nights: list[float] = []  # the churn of each night that has passed
        self._edits: dict[int, list[_Edit]] = {}
        self._cache: OrderedDict[int, SchoolContents] = OrderedDict()
        self._cache_size = max(1, cache_size)
        # school -> (nights, edits, mutationTimestamp) when its contents were last caught up:
        # details serve the stamp without rebuilding the school, as Basispoort reads a row.
        self._stamps: dict[int, tuple[int, int, datetime]] = {}
        self._clock = self._start
        self._granted: dict[date, list[int]] = {}
        self._revoked: dict[date, list[int]] = {}
        self._lock = threading.RLock()  # the server reads from many threads
        # Sizes never change after construction, so the largest school is known once.
        self._largest = max(self._headers.values(), key=lambda h: (h.size, -h.id), default=None)

    # -- schools ------------------------------------------------------------------------------

    @property
    def school_ids(self) -> list[int]:
        return list(self._headers)

    @property
    def night(self) -> int:
        """How many nights have passed."""
        return len(self._nights)

    @property
    def now(self) -> datetime:
        """The world's clock (UTC): 08:00 after the last night, plus one second per edit."""
        return self._clock

    @property
    def today(self) -> date:
        return self._clock.date()

    def school(self, school_id: int) -> SchoolHeader:
        try:
            return self._headers[school_id]
        except KeyError:
            raise UnknownSchool(f"the world has no school {school_id}") from None

    def kinds(self, school_id: int) -> list[str]:
        """The kinds (see KINDS) a school is of now; consent and status can change."""
        found = self._kinds(self.school(school_id))
        if self._largest is not None and school_id == self._largest.id:
            found.append("largest")
        return found

    def find(self, kind: str) -> int:
        """The first school (by id) of ``kind``, one of KINDS; e.g. find("no_consent")."""
        for school_id in self.find_all(kind):
            return school_id
        raise UnknownSchool(f"the world has no school of kind {kind!r}")

    def find_all(self, kind: str) -> list[int]:
        if kind not in KINDS:
            raise UnknownSchool(f"{kind!r} is not a kind of school; kinds are {', '.join(KINDS)}")
        with self._lock:
            if kind == "largest":
                return [] if self._largest is None else [self._largest.id]
            return [h.id for h in self._headers.values() if kind in self._kinds(h)]

    @staticmethod
    def _kinds(header: SchoolHeader) -> list[str]:
        found = []
        if header.merged_into is not None:
            found.append("merged")
        elif not header.actief:
            found.append("inactive")
        elif header.consent:
            found.append("consented")
        if not header.consent:
            found.append("no_consent")
        found.extend(k for k in header.kinds if k in _FIXED_KINDS)
        return found

    # -- time passes --------------------------------------------------------------------------

    def advance_night(self, churn: float = 0.02) -> int:
        """A night passes: in most schools about ``churn`` of the pupils change. Returns the night.

        Cheap at any scale: schools replay the night when they are next read.
        """
        with self._lock:
            self._nights.append(churn)
            self._clock = self._start + timedelta(days=len(self._nights))
            return len(self._nights)

    def contents(self, school_id: int) -> SchoolContents:
        """The school's groups and people now. Read only: change them through edit()."""
        with self._lock:
            contents = self._cache.get(school_id)
            if contents is None:
                contents = build_contents(self.seed, self.school(school_id))
                self._cache[school_id] = contents
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(school_id)
            self._catch_up(contents)
            self._remember_stamp(contents)
            return contents

    def mutated_at(self, school_id: int) -> datetime:
        """The school's mutationTimestamp; its contents are rebuilt only if it may have moved."""
        with self._lock:
            known = self._stamps.get(school_id)
            if known is not None and known[:2] == (
                len(self._nights),
                len(self._edits.get(school_id, ())),
            ):
                return known[2]
            return self.contents(school_id).mutated_at

    def _remember_stamp(self, contents: SchoolContents) -> None:
        self._stamps[contents.school_id] = (
            contents.night,
            contents.edits_applied,
            contents.mutated_at,
        )

    def _catch_up(self, contents: SchoolContents) -> None:
        header = self._headers[contents.school_id]
        history = self._edits.get(contents.school_id, [])
        while True:
            while contents.edits_applied < len(history):
                edit = history[contents.edits_applied]
                if edit.night != contents.night:
                    break
                self._apply(contents, edit, contents.edits_applied)
            if contents.night >= len(self._nights):
                return
            night = contents.night + 1
            rng = school_rng(self.seed, contents.school_id, f"night{night}")
            night_start = datetime.combine(self._start.date() + timedelta(days=night), NIGHT)
            apply_night(contents, header, rng, self._nights[night - 1], night_start)
            contents.night = night

    def _apply(self, contents: SchoolContents, edit: _Edit, index: int) -> Any:
        rng = school_rng(self.seed, contents.school_id, f"edit{index}")
        result = edit.op(contents, rng)
        contents.mutated_at = edit.stamp
        contents.edits_applied = index + 1
        return result

    # -- edits by tests -----------------------------------------------------------------------

    def edit(self, school_id: int, change: Callable[[SchoolContents], Any]) -> Any:
        """Change one school now with ``change(contents)`` and move its mutationTimestamp.

        Returns what ``change`` returns. ``change`` is run again when the school is rebuilt
        after leaving the cache, so it must be deterministic.
        """
        return self._record(school_id, edits.custom(change))

    def remove_pupils(self, school_id: int, fraction: float) -> list[int]:
        return self._record(school_id, edits.remove_pupils(fraction))

    def add_pupils(self, school_id: int, count: int) -> list[int]:
        return self._record(school_id, edits.add_pupils(count))

    def empty_school(self, school_id: int) -> None:
        self._record(school_id, edits.empty_school())

    def rename_pupil(self, school_id: int, pupil_id: int, **names: str | None) -> None:
        """Names given (voornaam, voorvoegsel, achternaam) are set; none given: a new surname."""
        self._record(school_id, edits.rename_pupil(pupil_id, **names))

    def move_pupil(self, school_id: int, pupil_id: int, group_key: str | None) -> None:
        self._record(school_id, edits.move_pupil(pupil_id, group_key))

    def change_pupil_id(self, school_id: int, pupil_id: int) -> int:
        """A new Basispoort id for the pupil; eckid and lasKey stay. Returns the new id."""
        return self._record(school_id, edits.change_pupil_id(pupil_id))

    def _record(self, school_id: int, op: edits.EditOp) -> Any:
        with self._lock:
            contents = self.contents(school_id)
            stamp = self._clock + timedelta(seconds=1)
            edit = _Edit(night=len(self._nights), stamp=stamp, op=op)
            history = self._edits.setdefault(school_id, [])
            result = self._apply(contents, edit, len(history))  # an invalid edit raises here
            history.append(edit)
            self._remember_stamp(contents)
            self._clock = stamp
            return result

    # -- consent and status -------------------------------------------------------------------

    def set_consent(self, school_id: int, granted: bool) -> None:
        """Grant or revoke consent today; a change shows in the toegekend/ingetrokken lists."""
        with self._lock:
            header = self.school(school_id)
            if header.consent == granted:
                return
            header.consent = granted
            days = self._granted if granted else self._revoked
            days.setdefault(self.today, []).append(school_id)

    def set_active(self, school_id: int, actief: bool) -> None:
        self._change_details(school_id, actief=actief)

    def merge(self, school_id: int, into: int | None) -> None:
        """Merge a school into another (gefuseerdNaar); ``None`` undoes it."""
        if into is not None:
            self.school(into)
        self._change_details(school_id, merged_into=into, actief=into is None)

    def _change_details(self, school_id: int, **fields: Any) -> None:
        """Set header ``fields`` the details show; a change moves the school's stamp, so a
        client asking what changed since sees it."""
        with self._lock:
            header = self.school(school_id)
            if all(getattr(header, name) == value for name, value in fields.items()):
                return
            for name, value in fields.items():
                setattr(header, name, value)
            self._record(school_id, edits.details_changed())

    def granted_on(self, day: date) -> list[int]:
        """Schools that granted consent on ``day``, including grants from before the world."""
        with self._lock:
            before = [h.id for h in self._headers.values() if h.granted_on == day]
            return before + list(self._granted.get(day, []))

    def revoked_on(self, day: date) -> list[int]:
        with self._lock:
            return list(self._revoked.get(day, []))

    def visible_ids(self) -> list[int]:
        """What GET rest/v2/instellingen lists: every school that gave this publisher consent."""
        with self._lock:
            return [h.id for h in self._headers.values() if h.consent]

    # -- the data as Basispoort serves it (also the truth tests compare with) ------------------

    def pupil_ids(self, school_id: int) -> list[int]:
        with self._lock:
            return list(self.contents(school_id).pupils)

    def details(self, school_id: int) -> payloads.Json:
        with self._lock:
            return payloads.details(self.school(school_id), self.mutated_at(school_id), self._clock)

    def overview(self, school_id: int) -> payloads.Json:
        with self._lock:
            return payloads.overview(self.school(school_id), self.contents(school_id), self._clock)

    def groepen(self, school_id: int) -> payloads.Json:
        with self._lock:
            return payloads.groepen(self.contents(school_id), self._clock)

    def leerlingen(
        self,
        school_id: int,
        ids: Iterable[int] | None = None,
        eckids: Iterable[str] | None = None,
    ) -> payloads.Json:
        with self._lock:
            return payloads.leerlingen(self.contents(school_id), self._clock, ids, eckids)

    def staf(self, school_id: int) -> payloads.Json:
        with self._lock:
            return payloads.staf(self.contents(school_id), self._clock)

    def ref(self, school_id: int) -> str:
        return self.school(school_id).instelling_ref

    def ipadressen(self, school_id: int) -> payloads.Json:
        return {"ipadressen": list(self.school(school_id).networks)}

    def search(self, criteria: Mapping[str, str], active_only: bool = False) -> list[payloads.Json]:
        """nawsearch: every school matching all ``criteria`` (see payloads.matches)."""
        unknown = set(criteria) - set(payloads.SEARCH_PARAMETERS)
        if unknown:
            raise ValueError(f"unknown search parameters: {sorted(unknown)}")
        with self._lock:
            return [
                payloads.search_result(h)
                for h in self._headers.values()
                if payloads.matches(h, criteria, active_only)
            ]
