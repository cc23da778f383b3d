"""Identity resolution: a source's school and user keys to the synced pupil or staff member."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from core.login.identity import IdentityProblem, LoginIdentity, resolve_identity
from tests.login.conftest import Seed, add_pupil, add_school, add_staff, seen


def resolve(db: Session, **keys: str | None):
    return resolve_identity(db, LoginIdentity(source="basispoort", **keys))


def test_by_instelling_ref_and_basispoort_id(db: Session, seed: Seed):
    found = resolve(db, school_ref=seed.school.source_ref, user_id=seed.pupil.source_id)
    assert (found.school, found.person, found.kind, found.problem) == (
        seen(seed.school),
        seen(seed.pupil),
        "pupil",
        None,
    )
    found = resolve(db, school_ref=seed.school.source_ref, user_id=seed.teacher.source_id)
    assert (found.person, found.kind) == (seen(seed.teacher), "staff")


def test_by_school_id_and_eckid(db: Session, seed: Seed):
    found = resolve(db, school_id=seed.school.source_school_id, eckid=seed.teacher.eckid)
    assert (found.person, found.kind) == (seen(seed.teacher), "staff")


def test_ref_and_id_must_name_the_same_school(db: Session, seed: Seed):
    found = resolve(
        db,
        school_ref=seed.school.source_ref,
        school_id=seed.bare_school.source_school_id,
        user_id=seed.pupil.source_id,
    )
    assert found.school is None and found.problem is IdentityProblem.UNKNOWN_SCHOOL


def test_another_source_does_not_see_basispoort_schools(db: Session, seed: Seed):
    identity = LoginIdentity(source="entree", school_ref=seed.school.source_ref, user_id="1")
    assert resolve_identity(db, identity).problem is IdentityProblem.UNKNOWN_SCHOOL


def test_a_person_of_another_school_is_unknown_here(db: Session, seed: Seed):
    found = resolve(db, school_ref=seed.school.source_ref, user_id=seed.bare_pupil.source_id)
    assert found.school == seen(seed.school)
    assert found.person is None and found.problem is IdentityProblem.UNKNOWN_PERSON


def test_the_eckid_is_the_fallback_when_the_source_id_changed(db: Session, seed: Seed):
    found = resolve(
        db, school_ref=seed.school.source_ref, user_id="999999999", eckid=seed.pupil.eckid
    )
    assert found.person == seen(seed.pupil)


def test_people_who_left_are_resolved_so_the_rule_can_say_so(db: Session, seed: Seed):
    found = resolve(db, school_ref=seed.school.source_ref, user_id=seed.left_pupil.source_id)
    assert found.person == seen(seed.left_pupil) and found.problem is None


def test_the_same_id_for_a_pupil_and_a_staff_member(db: Session):
    school = add_school(db)
    pupil = add_pupil(db, school, source_id="424242")
    staff = add_staff(db, school, source_id="424242")
    assert resolve(db, school_ref=school.source_ref, user_id="424242").problem is (
        IdentityProblem.AMBIGUOUS_PERSON
    )
    # When only one of them is still at the school, that is the one logging in.
    staff.left_at = datetime(2026, 1, 1, tzinfo=UTC)
    db.flush()
    assert resolve(db, school_ref=school.source_ref, user_id="424242").person == seen(pupil)


def test_a_reference_shared_after_a_merger_names_the_school_still_in_use(db: Session):
    old = add_school(db, merged_into_source_id="8123")
    new = add_school(db)
    new.source_ref = old.source_ref
    pupil = add_pupil(db, new)
    found = resolve(db, school_ref=old.source_ref, user_id=pupil.source_id)
    assert found.school == seen(new) and found.person == seen(pupil)


def test_nothing_to_go_on(db: Session):
    assert resolve(db, user_id="1").problem is IdentityProblem.UNKNOWN_SCHOOL
