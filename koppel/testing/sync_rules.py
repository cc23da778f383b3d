"""Rules checked through koppel's real engine: idempotent resyncs, tombstones, change stamps."""

from __future__ import annotations

from koppel.testing.engine import KitKoppel, StoredPerson
from koppel.testing.fetch_rules import stamp_of
from koppel.testing.matching import served_person
from koppel.testing.roster import Roster, base_roster
from koppel.testing.rules import Rule, require
from koppel.testing.run import KitRun


def synced(koppel: KitKoppel, school_id: int, rule: Rule, *, force: bool = False) -> str:
    """Sync once; the run must have succeeded (or found the school unchanged)."""
    run = koppel.sync(school_id, force=force)
    require(
        run.outcome in ("succeeded", "unchanged"),
        rule,
        f"the sync run ended {run.outcome}: {run.error}",
    )
    return run.outcome


def idempotent_resync(run: KitRun) -> None:
    rule = Rule.IDEMPOTENT
    run.serve(base_roster())
    with run.koppel() as koppel:
        school_id = koppel.link(run.upstream.brin6, rule)
        synced(koppel, school_id, rule, force=True)
        for force in (True, False):
            again = koppel.sync(school_id, force=force)
            wrote = {k: v for k, v in (again.counts or {}).items() if v and "note_" not in k}
            require(
                again.outcome in ("succeeded", "unchanged") and not wrote,
                rule,
                f"a second sync of unchanged data ({'forced' if force else 'nightly'}) ended "
                f"{again.outcome} and wrote {wrote or again.error}",
            )


def tombstones_from_complete_only(run: KitRun) -> None:
    rule = Rule.TOMBSTONES
    roster = run.serve(base_roster())
    authoritative = run.source.capabilities.complete_snapshots
    with run.koppel() as koppel:
        school_id = koppel.link(run.upstream.brin6, rule)
        synced(koppel, school_id, rule)
        run.serve(roster.without("pupil2"))
        with run.failing("unreachable") as failing:
            if failing:
                koppel.sync(school_id)
                require(
                    not _left(koppel, school_id, roster), rule, "a failed fetch made people leave"
                )
        synced(koppel, school_id, rule)
        left = _left(koppel, school_id, roster)
        expected = ["pupil2"] if authoritative else []
        require(
            left == expected,
            rule,
            f"after pupil2 left the upstream, koppel has {left or 'nobody'} as left "
            f"(expected {expected or 'nobody'}: complete_snapshots is {authoritative})",
        )
        run.serve(roster)
        synced(koppel, school_id, rule)
        require(not _left(koppel, school_id, roster), rule, "pupil2 came back but stays left")


def honest_change_stamps(run: KitRun) -> None:
    """latest_change moves with the data, and koppel's nightly sync sees the change."""
    rule = Rule.CHANGE_STAMPS
    roster = run.serve(base_roster())
    with run.koppel() as koppel:
        school_id = koppel.link(run.upstream.brin6, rule)
        school = run.school(rule)
        synced(koppel, school_id, rule)
        before = stamp_of(run, school)
        changed = run.serve(roster.renamed("pupil1", "Nieuwenaamsma"))
        after = stamp_of(run, school)
        if run.source.capabilities.change_stamps:
            require(
                after is None or after != before,
                rule,
                "latest_change gave the same stamp before and after the data changed",
            )
        outcome = synced(koppel, school_id, rule)
        stored = _by_key(koppel, school_id, changed).get("pupil1")
        require(
            outcome != "unchanged" and stored is not None and stored.last_name == "Nieuwenaamsma",
            rule,
            f"the nightly sync after a change ended {outcome} and kept pupil1's old surname",
        )


def _by_key(koppel: KitKoppel, school_id: int, roster: Roster) -> dict[str, StoredPerson]:
    stored = koppel.people(school_id).values()
    return {p.key: row for row in stored if (p := served_person(row, roster))}


def _left(koppel: KitKoppel, school_id: int, roster: Roster) -> list[str]:
    return sorted(k for k, row in _by_key(koppel, school_id, roster).items() if row.left_at)
