"""A school's networks from its source: replaced per origin, canonical, never guessed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import SourceDataError
from core.models import Pupil, SchoolNetwork
from core.snapshot import SourceCapabilities
from core.sync.engine import sync_school
from tests.sync.conftest import count


def _networks(db, school):  # type: ignore[no-untyped-def]
    return sorted(
        db.execute(
            select(SchoolNetwork.network, SchoolNetwork.origin).where(
                SchoolNetwork.school_id == school.id
            )
        )
    )


def test_source_networks_are_replaced_and_admin_networks_stay(db, school, source, plugins):
    db.add(SchoolNetwork(school_id=school.id, network="198.51.100.0/24", origin="admin"))
    db.commit()
    source.change(networks=("192.0.2.0/24", "2001:DB8::/48", "192.0.2.0/24"))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["networks_added"] == 2
    assert _networks(db, school) == [
        ("192.0.2.0/24", "fake"),
        ("198.51.100.0/24", "admin"),
        ("2001:db8::/48", "fake"),
    ]

    source.change(networks=("2001:db8::/48", "203.0.113.0/25"))
    run = sync_school(db, school.id, plugins=plugins)

    assert (run.counts["networks_added"], run.counts["networks_removed"]) == (1, 1)
    assert _networks(db, school) == [
        ("198.51.100.0/24", "admin"),
        ("2001:db8::/48", "fake"),
        ("203.0.113.0/25", "fake"),
    ]


def test_a_source_not_promising_networks_never_changes_them(db, school, source, plugins):
    db.add(SchoolNetwork(school_id=school.id, network="198.51.100.0/24", origin="fake"))
    db.commit()
    source.capabilities = SourceCapabilities(networks=False)
    source.change(networks=("192.0.2.0/24",))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"
    assert (run.counts["networks_added"], run.counts["networks_removed"]) == (0, 0)
    assert _networks(db, school) == [("198.51.100.0/24", "fake")]


def test_unknown_networks_leave_rows_alone(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    source.change(networks=None)

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["networks_removed"] == 0
    assert _networks(db, school) == [("192.0.2.0/24", "fake")]


def test_empty_network_list_removes_the_source_rows(db, school, source, plugins):
    sync_school(db, school.id, plugins=plugins)
    source.change(networks=())

    run = sync_school(db, school.id, plugins=plugins)

    assert run.counts["networks_removed"] == 1
    assert _networks(db, school) == []


def test_malformed_network_applies_nothing(db, school, source, plugins):
    source.change(networks=("192.0.2.0/24", "192.0.2.300/24"))

    with pytest.raises(SourceDataError) as caught:
        sync_school(db, school.id, plugins=plugins)

    assert f"school {school.id}" in str(caught.value)
    assert _networks(db, school) == []
    assert count(db, school, Pupil) == 0


def test_ipv4_mapped_networks_are_stored_as_ipv4(db, school, source, plugins):
    # Clients arrive unwrapped (::ffff:192.0.2.9 → 192.0.2.9): a mapped network must match them.
    source.change(networks=("::ffff:192.0.2.0/120",))

    sync_school(db, school.id, plugins=plugins)

    assert _networks(db, school) == [("192.0.2.0/24", "fake")]


@pytest.mark.parametrize("too_wide", ["0.0.0.0/0", "10.0.0.0/7", "::/0"])
def test_a_network_that_would_switch_the_rule_off_is_refused(db, school, source, plugins, too_wide):
    source.change(networks=("192.0.2.0/24", too_wide))

    with pytest.raises(SourceDataError, match="too wide"):
        sync_school(db, school.id, plugins=plugins)

    assert _networks(db, school) == []


@pytest.mark.parametrize("host_bits", ["10.0.6.77/8", "192.0.2.17/24", "2001:db8::1/48"])
def test_a_network_with_host_bits_is_refused_not_widened(db, school, source, plugins, host_bits):
    # "10.0.6.77/8" cleared to 10.0.0.0/8 would let pupils in from the whole range; the admin
    # API refuses the same entry, and so does a sync.
    sync_school(db, school.id, plugins=plugins)
    source.change(networks=("198.51.100.0/24", host_bits))

    with pytest.raises(SourceDataError, match="network number 2 in the snapshot has host bits"):
        sync_school(db, school.id, plugins=plugins)

    assert _networks(db, school) == [("192.0.2.0/24", "fake")]
