"""A school's allowed networks: validate what people type, read them, replace one origin's set.

Validation is strict on purpose: "192.0.2.7/24" (host bits set) is refused with both readings
spelled out, because silently widening one address to 256 would let a whole neighbourhood in.
Networks wider than /8 (IPv4) or /16 (IPv6) are refused too: no school owns one, and allowing
one would quietly switch the IP rule off. An administrator's private ranges (192.168.1.0/24,
what a school computer shows as its own address) are refused as well: the LVS sees the school's
public address, so such a network would never let a pupil in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network

import structlog
from sqlalchemy import ColumnElement, String, bindparam, cast, func, select
from sqlalchemy.orm import Session

from core.errors import KoppelError
from core.login.client_address import WIDEST_PREFIX, IPNetwork, clean
from core.models import School, SchoolNetwork

log = structlog.get_logger()

ADMIN_ORIGIN = "admin"  # entered by the school's administrator; other origins are source names
DESCRIPTION_MAX = 200
# Ranges that never reach the LVS as a login's address: private (RFC 1918, RFC 4193), shared
# carrier-grade NAT, loopback and link-local. Not ipaddress's is_private: that counts the
# documentation ranges (192.0.2.0/24) too.
UNREACHABLE = tuple(
    ip_network(n)
    for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
        "169.254.0.0/16", "0.0.0.0/8", "fc00::/7", "fe80::/10", "::1/128",
    )
)  # fmt: skip


class InvalidNetwork(KoppelError):
    """One or more networks given for a school are not valid networks or addresses."""

    hint = "give networks as CIDR (192.0.2.0/24, 2001:db8::/48) or single addresses (192.0.2.7)"

    def __init__(
        self,
        message: str,
        *,
        entries: Iterable[str] = (),
        why: str = "",
        problem: str = "",
        suggestions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.entries = list(entries)
        self.why = why  # what is wrong, without the entry itself (for data that is not ours)
        # For pages that explain it in their own words: malformed, host_bits, too_wide, private;
        # host_bits suggests the whole network and the one address.
        self.problem = problem
        self.suggestions = suggestions


@dataclass(frozen=True, slots=True)
class NetworkEntry:
    """A network as given: CIDR or single address, and an optional note (e.g. "lokaal 12")."""

    network: str
    description: str | None = None


def parse_network(text: str) -> IPNetwork:
    """The canonical network for ``text``, or InvalidNetwork saying what is wrong with it."""
    value = text.strip()
    shown = clean(value)
    try:
        network = ip_network(value, strict=True)
    except ValueError:
        try:
            widened = ip_network(value, strict=False)
        except ValueError:
            raise InvalidNetwork(
                f"{shown!r} is not an IP address or network",
                entries=[shown],
                why="is not an IP address or network",
                problem="malformed",
            ) from None
        address = value.split("/", 1)[0]
        raise InvalidNetwork(
            f"{shown!r} has host bits set: write {widened} for the whole network, "
            f"or {address} for that one address",
            entries=[shown],
            why="has host bits set (it names one address with a network's prefix)",
            problem="host_bits",
            suggestions=(str(widened), address),
        ) from None
    network = _unwrap_mapped(network)
    widest = WIDEST_PREFIX[network.version]
    if network.prefixlen < widest:
        raise InvalidNetwork(
            f"{shown!r} is wider than /{widest}: list the school's own networks instead",
            entries=[shown],
            why=f"is too wide (wider than /{widest})",
            problem="too_wide",
            suggestions=(f"/{widest}",),
        )
    return network


def parse_admin_network(text: str) -> IPNetwork:
    """``parse_network``, and refused when it is a range the LVS never sees a login from."""
    network = parse_network(text)
    for unreachable in UNREACHABLE:
        if isinstance(network, IPv4Network) == isinstance(unreachable, IPv4Network) and (
            network.subnet_of(unreachable)  # type: ignore[arg-type]
        ):
            raise InvalidNetwork(
                f"{network} is a private network, used inside a building: the LVS sees the "
                "school's public address, so list that one (a school computer shows it on a "
                "'what is my IP' page)",
                entries=[str(network)],
                why="is a private network",
                problem="private",
            )
    return network


def _unwrap_mapped(network: IPNetwork) -> IPNetwork:
    # Clients arrive unwrapped (::ffff:192.0.2.1 → 192.0.2.1), so networks must be too.
    if isinstance(network, IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ip_network(f"{mapped}/{network.prefixlen - 96}")
    return network


# Built once: every pupil's login reads it (see core/login/identity.py).
_SCHOOL_NETWORKS = (
    select(SchoolNetwork)
    .where(SchoolNetwork.school_id == bindparam("school_id"))
    .order_by(SchoolNetwork.origin, SchoolNetwork.network)
)

# A login reads its school's networks in the statement that finds the school and the person
# (core/login/identity.py), as one text column: per network "id:" and the origin and the
# network each as "length:text". Lengths, not separators, so that no stored text (however it
# got there) can be read as another network.
_PREFETCHED = "koppel_login_networks"


@dataclass(frozen=True, slots=True)
class StoredNetwork:
    """A school network as read for a login: enough to judge by it and to name a bad row."""

    id: int
    origin: str
    network: str


def networks_column() -> ColumnElement[str | None]:
    """The networks of the statement's ``School`` row, aggregated into one column (None: none)."""

    def sized(text: ColumnElement[str]) -> ColumnElement[str]:
        return cast(func.length(text), String) + ":" + text

    # The tables' own columns, not the ORM's: the login's statement is a plain Core one.
    networks, school = SchoolNetwork.__table__.c, School.__table__.c
    row = cast(networks.id, String) + ":" + sized(networks.origin)
    return (
        select(func.aggregate_strings(row + sized(networks.network), ","))
        .where(networks.school_id == school.id)
        .scalar_subquery()
    )


def read_networks_column(value: str | None) -> tuple[StoredNetwork, ...]:
    """``networks_column``'s value back as networks, in school_networks' order."""
    found = []
    at = 0
    while value and at < len(value):
        row_id, at = _field(value, at)
        origin, at = _sized(value, at)
        network, at = _sized(value, at)
        found.append(StoredNetwork(int(row_id), origin, network))
        at += 1  # the separator between networks
    return tuple(sorted(found, key=lambda n: (n.origin, n.network)))


def _field(value: str, at: int) -> tuple[str, int]:
    end = value.index(":", at)
    return value[at:end], end + 1


def _sized(value: str, at: int) -> tuple[str, int]:
    size, at = _field(value, at)
    return value[at : at + int(size)], at + int(size)


@contextmanager
def networks_read_with_login(
    session: Session, school_id: int | None, networks: tuple[StoredNetwork, ...]
) -> Iterator[None]:
    """Within the block, ``allowed_networks(session, school_id)`` answers from ``networks``
    (read in the login's own statement, so as fresh as the school row) instead of asking the
    database again. Only for the block: nothing is kept past the login."""
    if school_id is None:
        yield
        return
    session.info[_PREFETCHED] = (school_id, networks)
    try:
        yield
    finally:
        session.info.pop(_PREFETCHED, None)


def school_networks(session: Session, school_id: int) -> list[SchoolNetwork]:
    """Every network of the school, all origins, in a stable order."""
    return list(session.scalars(_SCHOOL_NETWORKS, {"school_id": school_id}))


def allowed_networks(session: Session, school_id: int) -> list[IPNetwork]:
    """The school's networks as ipaddress objects; an unreadable stored row is left out."""
    prefetched = session.info.get(_PREFETCHED)
    rows: Iterable[StoredNetwork | SchoolNetwork]
    if prefetched is not None and prefetched[0] == school_id:
        rows = prefetched[1]
    else:
        rows = school_networks(session, school_id)
    allowed: list[IPNetwork] = []
    for row in rows:
        try:
            allowed.append(ip_network(row.network, strict=False))
        except ValueError:
            # Fail closed: a row we cannot read lets nobody in.
            log.warning("school_network_unreadable", school_id=school_id, network_id=row.id)
    return allowed


def replace_networks(
    session: Session, school_id: int, origin: str, entries: Iterable[NetworkEntry | str]
) -> list[SchoolNetwork]:
    """Make ``origin``'s networks of the school exactly ``entries``; other origins stay.

    Everything is validated first: one bad entry changes nothing, and the error names every bad
    entry; the administrator's networks may not be private ones either. Unchanged networks keep
    their row (and created_at). Flushes; the caller commits.
    Returns every network of the school afterwards.
    """
    wanted: dict[str, str | None] = {}
    bad: list[InvalidNetwork] = []
    parse = parse_admin_network if origin == ADMIN_ORIGIN else parse_network
    for entry in entries:
        item = NetworkEntry(entry) if isinstance(entry, str) else entry
        try:
            network = str(parse(item.network))
        except InvalidNetwork as exc:
            bad.append(exc)
            continue
        description = (item.description or "").strip()[:DESCRIPTION_MAX] or None
        wanted.setdefault(network, description)
    if bad:
        message = "; ".join(str(exc.args[0]) for exc in bad)
        raise InvalidNetwork(message, entries=[e for exc in bad for e in exc.entries])

    current = {
        row.network: row
        for row in session.scalars(
            select(SchoolNetwork).where(
                SchoolNetwork.school_id == school_id, SchoolNetwork.origin == origin
            )
        )
    }
    for network, row in current.items():
        if network not in wanted:
            session.delete(row)
        else:
            row.description = wanted[network]
    for network, description in wanted.items():
        if network not in current:
            session.add(
                SchoolNetwork(
                    school_id=school_id, network=network, origin=origin, description=description
                )
            )
    session.flush()
    log.info("school_networks_replaced", school_id=school_id, origin=origin, networks=len(wanted))
    return school_networks(session, school_id)
