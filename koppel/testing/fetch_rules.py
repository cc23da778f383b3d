"""Rules checked on the source's own answers: whole snapshots, stable ids, odd input, stamps."""

from __future__ import annotations

from datetime import datetime

from core.errors import InternalError, SourceDataError
from core.snapshot import SchoolSnapshot
from koppel.testing.fetching import OWED, fetch
from koppel.testing.matching import ids_by_key, same_name, served_person
from koppel.testing.roster import UNKNOWN_ROLE, Roster, base_roster, odd_people, unstorable_person
from koppel.testing.rules import Rule, require
from koppel.testing.run import KitRun
from koppel.testing.upstream import FAILURES


def whole(run: KitRun, snapshot: SchoolSnapshot, roster: Roster, rule: Rule) -> None:
    """A snapshot marked complete lists exactly the served people; incomplete only if allowed."""
    require(
        snapshot.school.source_school_id == run.school(rule),
        rule,
        "the snapshot describes another school than the one asked for",
    )
    if not snapshot.complete:
        require(
            not run.source.capabilities.complete_snapshots,
            rule,
            "the snapshot is marked incomplete, but capabilities.complete_snapshots promises "
            "complete ones",
        )
        return
    for kind, records in (("pupil", snapshot.pupils), ("staff", snapshot.staff)):
        served = {p.key for p in roster.of_kind(kind)}
        got = ids_by_key(records, roster)
        missing = sorted(served - set(got))
        require(
            not missing,
            rule,
            f"a snapshot marked complete lacks {len(missing)} of the {len(served)} {kind} "
            f"records served (kit keys {', '.join(missing)})",
        )
        strangers = [r for r in records if served_person(r, roster) is None]
        require(
            not strangers,
            rule,
            f"the snapshot holds {len(strangers)} {kind} records the upstream does not serve",
        )


def complete_or_error(run: KitRun) -> None:
    rule = Rule.COMPLETE
    roster = run.serve(base_roster())
    school = run.school(rule)
    whole(run, _fetched(run, school, rule), roster, rule)
    for failure in FAILURES:
        with run.failing(failure) as failing:
            if failing:
                snapshot = fetch(run.source, school, run.said, rule, owed=OWED[failure])
                if snapshot is not None:
                    whole(run, snapshot, roster, rule)
    whole(run, _fetched(run, school, rule), roster, rule)  # healed: whole again


def stable_ids(run: KitRun) -> None:
    rule = Rule.STABLE_IDS
    roster = run.serve(base_roster())
    school = run.school(rule)
    first, second = (_ids(run, school, roster, rule) for _ in range(2))
    moved = sorted(k for k in first if first[k] != second.get(k))
    require(not moved, rule, f"two fetches of unchanged data gave other ids to {moved}")
    for kind in ("pupil", "staff"):
        keys = [p.key for p in roster.of_kind(kind)]
        ids = [first[k] for k in keys if k in first]
        require(len(set(ids)) == len(ids), rule, f"two {kind} records share one source id")
    renamed = run.serve(roster.renamed("pupil3", "Anderenaamstra"))
    after = _ids(run, school, renamed, rule)
    require(
        after.get("pupil3") == first.get("pupil3"),
        rule,
        "a pupil whose surname changed came back under another source id (kit key pupil3)",
    )


def odd_roles_and_names(run: KitRun) -> None:
    rule = Rule.ODD_INPUT
    roster = run.serve(base_roster().plus(*odd_people()))
    school = run.school(rule)
    snapshot = _fetched(run, school, rule)
    records = {
        p.key: r for r in (*snapshot.pupils, *snapshot.staff) if (p := served_person(r, roster))
    }
    for person in roster.people:
        record = records.get(person.key)
        require(record is not None, rule, f"{person.key} ({person.kind}) was dropped")
        require(same_name(record, person), rule, f"{person.key}'s name arrived changed")
        if person.kind == "staff":
            require(
                set(person.roles) <= set(record.roles),
                rule,
                f"{person.key}'s roles arrived as {len(record.roles)} roles, not the "
                f"{len(person.roles)} served; unknown roles (e.g. {UNKNOWN_ROLE!r}) are kept",
            )
    unstorable(run, roster)


def unstorable(run: KitRun, roster: Roster) -> None:
    """A name no column holds: refused with SourceDataError (by the source or by koppel's
    records), and koppel's sync fails cleanly, keeping the data it had."""
    rule = Rule.ODD_INPUT
    with run.koppel() as koppel:
        school_id = koppel.link(run.upstream.brin6, rule)
        run.serve(roster.plus(unstorable_person()))
        fetch(run.source, run.school(rule), run.said, rule, owed=SourceDataError)
        failed = koppel.sync(school_id)
        crashed = [e for e in run.said.exceptions if isinstance(e, InternalError)]
        require(
            failed.outcome in ("failed", "succeeded") and not crashed,
            rule,
            f"syncing a name too long to store ended {failed.outcome} ({failed.error})",
        )


def stamp_of(run: KitRun, school: str) -> datetime | None:
    stamp = run.source.latest_change(school)
    require(
        stamp is None or (isinstance(stamp, datetime) and stamp.tzinfo is not None),
        Rule.CHANGE_STAMPS,
        f"latest_change returned {type(stamp).__name__}: a timezone-aware datetime or None",
    )
    return stamp


def _fetched(run: KitRun, school: str, rule: Rule) -> SchoolSnapshot:
    snapshot = fetch(run.source, school, run.said, rule, owed=None)
    assert snapshot is not None
    return snapshot


def _ids(run: KitRun, school: str, roster: Roster, rule: Rule) -> dict[str, str]:
    snapshot = _fetched(run, school, rule)
    return ids_by_key((*snapshot.pupils, *snapshot.staff), roster)
