"""make_plan and the plan's stored form: counts, serialization, hashes, staleness, digests."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest

from core.errors import PlanError, PlanStale, SourceDataError
from core.models import utcnow
from core.snapshot import GroupKind, GroupRecord, PupilRecord, StaffRecord
from core.sync.apply import apply_plan
from core.sync.digest import group_digest, pupil_digest, staff_digest
from core.sync.plan import SyncPlan, make_plan
from core.sync.records import GroupRef
from tests.fakes import make_snapshot


def _snapshot(school, **kwargs):  # type: ignore[no-untyped-def]
    return make_snapshot(source_school_id=school.source_school_id, **kwargs)


def test_digests_are_stable_and_see_every_field():
    pupil = PupilRecord(source_id="1", first_name="A", group_key="G1", subgroup_keys=("S1", "S2"))
    assert len(pupil_digest(pupil)) == 32
    assert pupil_digest(pupil) == pupil_digest(replace(pupil, subgroup_keys=("S2", "S1", "S1")))
    for changed in (
        replace(pupil, first_name="B"),
        replace(pupil, group_key="G2"),
        replace(pupil, subgroup_keys=("S1",)),
        replace(pupil, eckid="x"),
        replace(pupil, year_group=3),
    ):
        assert pupil_digest(changed) != pupil_digest(pupil)
    staff = StaffRecord(source_id="1", roles=("Leerkracht", "Inval"), end_date=date(2027, 7, 31))
    assert staff_digest(staff) == staff_digest(replace(staff, roles=("Inval", "Leerkracht")))
    assert staff_digest(staff) != staff_digest(replace(staff, end_date=None))
    assert staff_digest(staff) != staff_digest(replace(staff, group_keys=("G1",)))
    group = GroupRecord(key="G1", kind=GroupKind.GROUP, name="5A")
    assert group_digest(group) != group_digest(replace(group, kind=GroupKind.SUBGROUP))
    assert group_digest(group) != group_digest(replace(group, description="x"))


def test_digests_keep_their_stored_values():
    """The hashes stored by earlier releases must stay valid: a changed digest would rewrite
    every row of every school once (values computed by the json-based encoder before orjson)."""
    tricky = 'Zoë "de" \\ Bruijn\n\t\x01\x1f\x7f\u2028€😀'
    pupil = PupilRecord(
        source_id="12",
        eckid="https://id.school/" + tricky,
        las_key="L1",
        first_name=tricky,
        prefix="van der",
        last_name="Ĳsselmeer",
        initials="Z.",
        year_group=5,
        group_key="5A",
        subgroup_keys=("rekenen", "Ärger"),
    )
    staff = StaffRecord(
        source_id="7",
        first_name=tricky,
        email="a@b.nl",
        roles=("Leerkracht", "Inval"),
        end_date=date(2027, 7, 31),
        group_keys=("5A",),
        subgroup_keys=("x",),
    )
    group = GroupRecord(key="5A", kind=GroupKind.GROUP, name=tricky, year_group=5)
    assert pupil_digest(pupil) == "a0416c5254daa4b0b804854cd882878e"
    assert staff_digest(staff) == "2b6d6fe3531cd6e68f62b6fc3df776d8"
    assert group_digest(group) == "d235186614c8ff3a389507f0fbd6068d"


def test_plan_of_a_new_school_and_its_round_trip(db, school):
    snapshot = _snapshot(school, pupils=10, staff=2)

    plan = make_plan(db, school, snapshot)

    assert plan.counts["pupils_created"] == 10
    assert plan.counts["staff_created"] == 2
    assert plan.counts["groups_created"] == 8
    assert not plan.is_empty
    stored = json.loads(json.dumps(plan.to_dict()))
    again = SyncPlan.from_dict(stored)
    assert again == plan
    assert again.plan_hash == plan.plan_hash
    assert len(plan.plan_hash) == 64
    # The stored form holds ids, keys and hashes: no names.
    text = json.dumps(stored)
    assert "Kind0" not in text and "ketenid" not in text and "Achternaam" not in text


def test_plan_hash_depends_on_content_not_order(db, school):
    snapshot = _snapshot(school, pupils=10)
    shuffled = replace(snapshot, pupils=tuple(reversed(snapshot.pupils)))
    assert make_plan(db, school, snapshot).plan_hash == make_plan(db, school, shuffled).plan_hash
    changed = replace(snapshot, pupils=snapshot.pupils[1:])
    assert make_plan(db, school, changed).plan_hash != make_plan(db, school, snapshot).plan_hash


def test_a_stored_plan_applies_exactly(db, school):
    snapshot = _snapshot(school, pupils=5, staff=1)
    stored = make_plan(db, school, snapshot).to_dict()

    apply_plan(db, school, SyncPlan.from_dict(stored), snapshot, utcnow())

    assert make_plan(db, school, snapshot).is_empty


def test_a_stored_plan_refuses_a_changed_snapshot(db, school):
    snapshot = _snapshot(school, pupils=5)
    plan = SyncPlan.from_dict(make_plan(db, school, snapshot).to_dict())
    pupils = list(snapshot.pupils)
    pupils[2] = replace(pupils[2], last_name="Anders")

    with pytest.raises(PlanStale) as caught:
        apply_plan(db, school, plan, replace(snapshot, pupils=tuple(pupils)), utcnow())
    assert "Anders" not in str(caught.value)


def test_unreadable_stored_plan():
    with pytest.raises(PlanError):
        SyncPlan.from_dict({"version": 1, "school_id": 1})


@pytest.mark.parametrize(
    "change",
    [
        lambda s: replace(s, pupils=(*s.pupils, s.pupils[0])),
        lambda s: replace(s, staff=(*s.staff, s.staff[0])),
        lambda s: replace(s, groups=(*s.groups, s.groups[0])),
        lambda s: replace(s, school=replace(s.school, source_school_id="other")),
        lambda s: replace(s, networks=("192.0.2.0/24", "not-a-network")),
    ],
)
def test_snapshots_breaking_promises_are_refused(db, school, change):
    with pytest.raises(SourceDataError) as caught:
        make_plan(db, school, change(_snapshot(school)))
    assert f"school {school.id}" in str(caught.value)
    assert "not-a-network" not in str(caught.value)


def test_a_stored_plan_with_every_kind_of_write_applies_exactly(db, school):
    first = _snapshot(school, pupils=8, staff=2)
    apply_plan(db, school, make_plan(db, school, first), first, utcnow())
    pupils = list(first.pupils)
    pupils[0] = replace(pupils[0], group_key="G3")  # update (a move)
    pupils[1] = replace(pupils[1], source_id="rekeyed")  # re-key by eckid
    del pupils[2]  # leaves
    second = replace(first, pupils=tuple(pupils), groups=first.groups[:-1])  # a group leaves

    stored = json.loads(json.dumps(make_plan(db, school, second).to_dict()))
    plan = SyncPlan.from_dict(stored)
    assert plan.prepared is None  # nothing from planning survives storage: apply checks hashes
    assert (plan.counts["pupils_rekeyed"], plan.counts["pupils_left"]) == (1, 1)
    apply_plan(db, school, plan, second, utcnow())

    assert make_plan(db, school, second).is_empty


@pytest.mark.parametrize("ref", ["5A", "klas:5A", ""])
def test_a_stored_plan_with_an_unreadable_group_ref_is_refused(db, school, ref):
    """A group's ref is read back as a value (kind, key): one that names no kind of group is
    refused when the plan is read, before anything could be written with it."""
    stored = make_plan(db, school, make_snapshot(source_school_id=school.source_school_id))
    data = json.loads(json.dumps(stored.to_dict()))
    assert data["groups"]["create"], "the fake school has groups to create"
    data["groups"]["create"][0][0] = ref

    with pytest.raises(PlanError, match="stored plan is not readable"):
        SyncPlan.from_dict(data)


def test_group_refs_are_values_and_stored_as_text(db, school):
    stored = make_plan(db, school, make_snapshot(source_school_id=school.source_school_id))
    ref = stored.groups.create[0].key
    assert isinstance(ref, GroupRef) and ref == (ref.kind, ref.key)
    data = stored.to_dict()
    assert data["groups"]["create"][0][0] == f"{ref.kind}:{ref.key}"
    assert GroupRef.parse(str(ref)) == ref
    assert GroupRef.parse("group:naam:Groep 5") == GroupRef("group", "naam:Groep 5")
