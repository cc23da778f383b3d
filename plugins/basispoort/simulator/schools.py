"""The world's schools without their people: ids, BRIN codes, addresses, consent, sizes."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from plugins.basispoort.simulator.names import (
    SCHOOL_KINDS,
    SCHOOL_NAMES,
    STREETS,
    TOWNS,
    ascii_fold,
)
from plugins.basispoort.simulator.state import SchoolHeader

FIRST_SCHOOL_ID = 100_000
MEDIAN_SIZE = 215  # with the spread below the national average comes out near 230 pupils
SIZE_SPREAD = 0.45

# Fixed ordinals, so tests can find a school of each kind in any world of 9 schools or more.
CONSENTED, NO_CONSENT, INACTIVE, MERGED, SECOND_LOCATION, QUIET, NO_NETWORKS, LARGEST = (
    0, 1, 2, 3, 5, 6, 7, 8,
)  # fmt: skip
_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
_LOG_MEDIAN = math.log(MEDIAN_SIZE)
_SLUGS = {name: ascii_fold(name).lower().replace(" ", "").replace("'", "") for name in SCHOOL_NAMES}
T = TypeVar("T")


def build_headers(
    seed: int, count: int, sizes: tuple[int, int], start: datetime
) -> dict[int, SchoolHeader]:
    """Every school's header, in id order; one generator, so the whole list follows the seed."""
    draw = _Draw(random.Random(seed))
    low, high = sizes
    headers: dict[int, SchoolHeader] = {}
    used_brins: set[str] = set()
    board = str(draw.between(10_000, 99_999))
    previous: SchoolHeader | None = None
    for ordinal in range(count):
        if draw.random() < 0.3:  # a board (bestuur) runs a handful of schools in a row
            board = str(draw.between(10_000, 99_999))
        size = round(draw.rng.lognormvariate(_LOG_MEDIAN, SIZE_SPREAD))
        size = min(high, max(low, size))
        header = _header(draw, FIRST_SCHOOL_ID + ordinal, ordinal, board, size, start, used_brins)
        if ordinal % 10 == SECOND_LOCATION and previous is not None:
            _make_second_location(header, previous, used_brins)
        headers[header.id] = header
        previous = header
    _assign_fixed_roles(headers, sizes)
    return headers


class _Draw:
    """Draws through random() alone: several times faster than choice() and randint()."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.random = rng.random

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low + 1))


def _header(
    draw: _Draw,
    school_id: int,
    ordinal: int,
    board: str,
    size: int,
    start: datetime,
    used_brins: set[str],
) -> SchoolHeader:
    town, area_code = draw.pick(TOWNS)
    name = draw.pick(SCHOOL_NAMES)
    brin = _unique_brin(draw, used_brins)
    consent = ordinal < 10 or draw.random() > 0.03
    ref = f"{draw.rng.getrandbits(128):032x}"
    return SchoolHeader(
        id=school_id,
        ordinal=ordinal,
        brin=brin,
        location="00",
        naam=f"{draw.pick(SCHOOL_KINDS)} {name}",
        straat=draw.pick(STREETS),
        huisnummer=str(draw.between(1, 250)),
        toevoeging=draw.pick(("a", "b", "-1", "bis")) if draw.random() < 0.1 else None,
        postcode=f"{draw.between(1000, 9999)} {_postcode_letters(draw)}",
        woonplaats=town,
        telefoon_net=area_code,
        telefoon_abon=str(
            draw.between(10 ** (9 - len(area_code)), 10 ** (10 - len(area_code)) - 1)
        ),
        emailadres=f"info@{_SLUGS[name]}{brin.lower()}.nl",
        bestuurscode=board,
        instelling_ref=f"{ref[:8]}-{ref[8:12]}-{ref[12:16]}-{ref[16:20]}-{ref[20:]}",
        size=size,
        networks=_networks(draw, ordinal),
        first_mutation=start - timedelta(seconds=draw.between(86_400, 30 * 86_400)),
        consent=consent,
        granted_on=(start - timedelta(days=draw.between(1, 400))).date() if consent else None,
    )


def _make_second_location(header: SchoolHeader, main: SchoolHeader, used: set[str]) -> None:
    """A dependance: the main school's BRIN with location 01, a separate institution."""
    used.discard(header.brin)
    header.brin = main.brin
    header.location = "01"
    header.naam = f"{main.naam} (locatie {header.straat})"
    header.bestuurscode = main.bestuurscode
    header.woonplaats = main.woonplaats
    header.telefoon_net = main.telefoon_net
    header.emailadres = main.emailadres


def _assign_fixed_roles(headers: dict[int, SchoolHeader], sizes: tuple[int, int]) -> None:
    by_ordinal = list(headers.values())

    def role(ordinal: int, kind: str) -> SchoolHeader | None:
        if ordinal >= len(by_ordinal):
            return None
        header = by_ordinal[ordinal]
        header.kinds = (*header.kinds, kind)
        return header

    if (school := role(NO_CONSENT, "no_consent")) is not None:
        school.consent, school.granted_on = False, None
    if (school := role(INACTIVE, "inactive")) is not None:
        school.actief = False
    if (school := role(MERGED, "merged")) is not None:
        # Merged schools are no longer active either; check gefuseerdNaar before actief.
        school.actief = False
        school.merged_into = by_ordinal[CONSENTED].id
        role(CONSENTED, "merge_target")
    role(SECOND_LOCATION, "second_location")
    role(QUIET, "quiet")
    if (school := role(NO_NETWORKS, "no_networks")) is not None:
        school.networks = ()
    if (school := role(LARGEST, "largest")) is not None:
        school.size = sizes[1]


def _networks(draw: _Draw, ordinal: int) -> tuple[str, ...]:
    if ordinal >= 10 and draw.random() < 0.15:
        return ()
    # Unique per school; the /24 is a school's public range, the /48 its IPv6 prefix.
    networks = [f"10.{(ordinal >> 8) & 255}.{ordinal & 255}.0/24"]
    if ordinal < 10 or draw.random() < 0.3:
        # written the way ipaddress prints it, so a round trip changes nothing
        networks.append(f"2001:db8:{ordinal:x}::/48" if ordinal else "2001:db8::/48")
    return tuple(networks)


def _unique_brin(draw: _Draw, used: set[str]) -> str:
    while True:
        brin = f"{draw.between(0, 99):02d}{draw.pick(_LETTERS)}{draw.pick(_LETTERS)}"
        if brin not in used:
            used.add(brin)
            return brin


def _postcode_letters(draw: _Draw) -> str:
    while True:
        letters = draw.pick(_LETTERS) + draw.pick(_LETTERS)
        if letters not in ("SA", "SD", "SS"):  # never issued in Dutch postcodes
            return letters
