"""A school's networks: strict parsing, and replacing one origin's networks while others stay."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from sqlalchemy.orm import Session

from core.login.networks import (
    ADMIN_ORIGIN,
    InvalidNetwork,
    NetworkEntry,
    allowed_networks,
    parse_network,
    replace_networks,
    school_networks,
)
from core.models import SchoolNetwork
from tests.login.conftest import add_school


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.0/24", "192.0.2.0/24"),
        (" 192.0.2.0/24 ", "192.0.2.0/24"),
        ("192.0.2.7", "192.0.2.7/32"),
        ("192.0.2.7/32", "192.0.2.7/32"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("2001:db8::/48", "2001:db8::/48"),
        ("2001:DB8:0::/48", "2001:db8::/48"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001::/16", "2001::/16"),
        ("::ffff:192.0.2.7", "192.0.2.7/32"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
    ],
)
def test_networks_that_parse(text, expected):
    assert parse_network(text) == ip_network(expected)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is not an IP address or network"),
        ("school", "is not an IP address or network"),
        ("192.0.2.0/33", "is not an IP address or network"),
        ("192.0.2.0/-1", "is not an IP address or network"),
        ("192.0.2.256", "is not an IP address or network"),
        ("192.0.2.0 - 192.0.2.255", "is not an IP address or network"),
        ("192.0.2.0/255.255.255.0x", "is not an IP address or network"),
        ("192.0.2.7/24", "write 192.0.2.0/24 for the whole network, or 192.0.2.7 for that one"),
        ("2001:db8::1/48", "write 2001:db8::/48 for the whole network, or 2001:db8::1 for that"),
        ("0.0.0.0/0", "wider than /8"),
        ("10.0.0.0/7", "wider than /8"),
        ("::/0", "wider than /16"),
        ("2000::/3", "wider than /16"),
    ],
)
def test_networks_that_are_refused_say_why(text, says):
    with pytest.raises(InvalidNetwork) as caught:
        parse_network(text)
    assert says in str(caught.value)


def test_replace_keeps_other_origins_and_unchanged_rows(db: Session):
    school = add_school(db)
    db.add(SchoolNetwork(school_id=school.id, network="2001:db8:12::/48", origin="basispoort"))
    replace_networks(db, school.id, ADMIN_ORIGIN, ["192.0.2.0/24", "198.51.100.9"])
    db.commit()
    kept = next(r for r in school_networks(db, school.id) if r.network == "192.0.2.0/24")

    rows = replace_networks(
        db,
        school.id,
        ADMIN_ORIGIN,
        [NetworkEntry("192.0.2.0/24", "  lokaal 12 "), "203.0.113.0/25", "203.0.113.0/25"],
    )
    db.commit()
    assert [(r.origin, r.network, r.description) for r in rows] == [
        (ADMIN_ORIGIN, "192.0.2.0/24", "lokaal 12"),
        (ADMIN_ORIGIN, "203.0.113.0/25", None),
        ("basispoort", "2001:db8:12::/48", None),
    ]
    same = next(r for r in rows if r.network == "192.0.2.0/24")
    assert same.id == kept.id  # an unchanged network keeps its row and created_at
    assert set(allowed_networks(db, school.id)) == {
        ip_network("192.0.2.0/24"),
        ip_network("203.0.113.0/25"),
        ip_network("2001:db8:12::/48"),
    }


def test_one_bad_entry_changes_nothing_and_every_bad_entry_is_named(db: Session):
    school = add_school(db)
    replace_networks(db, school.id, ADMIN_ORIGIN, ["192.0.2.0/24"])
    db.commit()
    with pytest.raises(InvalidNetwork) as caught:
        replace_networks(
            db, school.id, ADMIN_ORIGIN, ["198.51.100.0/24", "nonsense", "192.0.2.9/24"]
        )
    assert caught.value.entries == ["nonsense", "192.0.2.9/24"]
    assert "'nonsense'" in str(caught.value) and "'192.0.2.9/24'" in str(caught.value)
    assert [r.network for r in school_networks(db, school.id)] == ["192.0.2.0/24"]


def test_an_empty_list_removes_only_that_origin(db: Session):
    school = add_school(db)
    db.add(SchoolNetwork(school_id=school.id, network="2001:db8:12::/48", origin="basispoort"))
    replace_networks(db, school.id, ADMIN_ORIGIN, ["192.0.2.0/24"])
    rows = replace_networks(db, school.id, ADMIN_ORIGIN, [])
    assert [(r.origin, r.network) for r in rows] == [("basispoort", "2001:db8:12::/48")]


def test_an_unreadable_stored_network_lets_nobody_in(db: Session):
    school = add_school(db)
    db.add(SchoolNetwork(school_id=school.id, network="not a network", origin="legacy"))
    db.add(SchoolNetwork(school_id=school.id, network="192.0.2.0/24", origin=ADMIN_ORIGIN))
    db.flush()
    assert allowed_networks(db, school.id) == [ip_network("192.0.2.0/24")]
