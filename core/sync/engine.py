"""Syncing one school: a recorded run around fetch → plan → safety check → apply → commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.errors import KoppelError, SchoolNotFound
from core.lease import Lease, write_school
from core.models import Outcome, School, SyncRun, utcnow
from core.plugins import Plugins
from core.settings import get_settings
from core.snapshot import SchoolSnapshot
from core.sources import as_promised
from core.sync.apply import apply_plan
from core.sync.budget import Budget
from core.sync.held import hold_plan, retire_held
from core.sync.life import RunLife, run_life
from core.sync.merge import MergePlan, apply_move, plan_move
from core.sync.plan import make_plan
from core.sync.runs import GOOD_OUTCOMES, attach_run, end_run, finish_run, start_run
from core.sync.safety import check_merge, check_plan
from core.sync.state import SchoolState, read_state, school_values
from core.sync.unchanged import KnownSchool, confirm_unchanged
from core.sync.work import UnitOfWork

# Called right before the apply is committed, with the school's columns to write (in the same
# statement, see core.lease.write_school); returns the school's consent as it is now, or raises
# core.errors.LeaseLost to stop the commit. A lease's ``fence`` is one.
Fence = Callable[[Session, Mapping[str, Any]], str]

# outcome, counts, error (or the reason a run was skipped or held)
Result = tuple[Outcome, dict[str, int], str | None]


def sync_school(
    session: Session,
    school_id: int,
    *,
    plugins: Plugins,
    trigger: str = "manual",
    worker: str | None = None,
    force: bool = False,
    fence: Fence | None = None,
    held: Lease | None = None,
    state: SchoolState | None = None,
    checked_stamp: datetime | None = None,
    budget: Budget | None = None,
) -> SyncRun:
    """Sync one school now and return its recorded run (committed).

    Outcomes: succeeded, unchanged (the source's mutation stamp did not move), skipped (no
    consent, inactive or merged; the reason is in ``error``), held (the safety check found
    reasons, in ``error``; the plan is stored as a HeldPlan, nothing applied) and failed. A
    school the source reports merged has its people moved to the target school instead
    (core/sync/merge.py); one it reports inactive is skipped: nobody is removed. A failure
    rolls the apply back, records the run as failed and re-raises, so a worker can decide
    whether to retry. The whole apply is one transaction; the source is asked while no
    transaction is open.

    An unchanged school is decided by core.sync.unchanged, before a run is started.
    ``held``: the caller's lease on the school (its fence unless ``fence`` is given);
    ``state``: the school's state (core.sync.state) when the caller just read it;
    ``checked_stamp``: the source's change stamp the caller just read (it is not asked again);
    ``budget``: the safety check's limits (by default those of the settings).
    """
    fence = fence or (held.fence if held is not None else None)
    work = UnitOfWork(session)
    if state is None:
        with work.step():
            state = read_state(session, school_id)
    stamp = checked_stamp
    if not force and _may_be_unchanged(state, plugins):
        assert state.source_mutated_at is not None
        known = KnownSchool(state.id, state.source, state.source_school_id, state.source_mutated_at)
        token = held.token if held is not None else None
        verdict = confirm_unchanged(
            session, plugins, known, since=utcnow(), trigger=trigger, worker=worker,
            token=token, asked=checked_stamp,
        )  # fmt: skip
        if verdict.run_id is not None:
            return attach_run(session, SyncRun(**verdict.run), verdict.run_id)
        stamp = verdict.stamp
    budget = budget or Budget.from_settings(get_settings())
    with work.step():
        run = start_run(session, school_id, trigger, worker)
    life = RunLife(state.id, state.source, run.id, trigger)
    with run_life(work, plugins, life):
        life.end(*_sync(work, state, run.id, plugins, fence, stamp, budget))
    return run


def _may_be_unchanged(state: SchoolState, plugins: Plugins) -> bool:
    """Could the school be confirmed unchanged? Only one stored in step before: for the others
    (a first sync, a failed or held last run) the stamp request would be wasted."""
    if _skip_reason(state) is not None or state.source_mutated_at is None:
        return False
    if state.last_outcome not in GOOD_OUTCOMES:
        return False
    try:
        return plugins.source(state.source).capabilities.change_stamps
    except KoppelError:
        return False  # an unknown source: the run records it


def _skip_reason(school: School | SchoolState) -> str | None:
    if school.consent != "granted":
        return f"the school has not granted consent (consent: {school.consent})"
    if school.merged_into_source_id:
        return f"the school was merged into source school {school.merged_into_source_id}"
    if not school.active:
        return "the school is inactive at its source"
    return None


def _merged(
    work: UnitOfWork,
    plugins: Plugins,
    school: School,
    run: SyncRun,
    fence: Fence | None,
    budget: Budget,
    *,
    create: bool,
) -> Result:
    """A merged school: move what is left of its people to the target, else say why not.

    The move goes through the safety check like any mass change: over the budget it is held
    for a person to approve. ``create``: the target school may be linked (looked up at the
    source) if it is not yet.
    """
    session = work.session
    move = plan_move(session, plugins, school, create=create)
    if not move.possible:
        return _finish(work, run, Outcome.SKIPPED, {}, move.reason)
    if not any(move.counts.values()):
        moved = "nobody is left to move"
        if move.target_id is not None:
            moved = f"its people were moved to school {move.target_id}"
        return _finish(work, run, Outcome.SKIPPED, {}, f"{_skip_reason(school)}; {moved}")
    target = f"source school {move.target_source_id}"
    if move.target_id is not None:
        target = f"school {move.target_id} ({target})"
    reasons = check_merge(session, school, move.leaving, target, budget)
    if reasons:
        hold_plan(session, school, run, move, reasons, None)
        return _finish(work, run, Outcome.HELD, {}, "; ".join(reasons))
    return move_people(work, plugins, school, run, move, fence)


def move_people(
    work: UnitOfWork,
    plugins: Plugins,
    school: School,
    run: SyncRun,
    move: MergePlan,
    fence: Fence | None,
) -> Result:
    """Apply a merge ``move`` as ``run`` (committed): succeeded, or skipped saying why not."""
    result = apply_move(work.session, plugins, school, move, utcnow())
    if not result.moved:
        return _finish(work, run, Outcome.SKIPPED, {}, result.reason)
    if fence is not None:
        fence(work.session, {})
    outcome = _finish(work, run, Outcome.SUCCEEDED, result.counts)
    if result.target_created and result.target_id is not None:
        plugins.consent_changed(school_id=result.target_id, source=school.source, granted=True)
    return outcome


def _sync(
    work: UnitOfWork,
    state: SchoolState,
    run_id: int,
    plugins: Plugins,
    fence: Fence | None,
    stamp: datetime | None,
    budget: Budget,
) -> Result:
    reason = _skip_reason(state)
    if reason is not None and state.consent == "granted" and state.merged_into_source_id:
        # Known merged before: no fetch of its own; the people move once the target is linked.
        with work.writing():
            school, run = _load(work.session, state.id, run_id)
            return _merged(work, plugins, school, run, fence, budget, create=False)
    if reason is not None:
        with work.step():
            end_run(work.session, run_id, Outcome.SKIPPED, error=reason)
        return Outcome.SKIPPED, {}, reason
    snapshot = plugins.source(state.source).fetch_snapshot(state.source_school_id)
    with work.writing():
        return _apply_snapshot(work, state, run_id, plugins, snapshot, stamp, fence, budget)


def _apply_snapshot(
    work: UnitOfWork,
    state: SchoolState,
    run_id: int,
    plugins: Plugins,
    snapshot: SchoolSnapshot,
    stamp: datetime | None,
    fence: Fence | None,
    budget: Budget,
) -> Result:
    """Plan, check and apply a fetched snapshot, in one transaction; held when over budget."""
    session = work.session
    snapshot = as_promised(plugins.source(state.source), snapshot)
    info = snapshot.school
    if info.merged_into or not info.active:
        # Whatever the lists of a merged or inactive school say, nobody is removed for it.
        school, run = _load(session, state.id, run_id)
        school.active = info.active
        school.merged_into_source_id = info.merged_into
        if info.merged_into:
            return _merged(work, plugins, school, run, fence, budget, create=True)
        return _finish(
            work,
            run,
            Outcome.SKIPPED,
            {},
            "the source reports the school inactive; nothing applied",
        )
    # Planning and applying need only who the school is, which the state holds: no load. The
    # object stays out of the session; the school row is written by one statement below.
    school = School(id=state.id, source=state.source, source_school_id=state.source_school_id)
    now = utcnow()
    plan = make_plan(session, school, snapshot)
    reasons = check_plan(session, school, plan, snapshot, budget)
    if reasons:
        work.rollback()  # the plan only read; nothing of it may stay
        _, run = _load(session, state.id, run_id)
        hold_plan(session, school, run, plan, reasons, snapshot)
        return _finish(work, run, Outcome.HELD, {}, "; ".join(reasons))

    apply_plan(session, school, plan, snapshot, now)
    if state.held is not False:  # False: read with the lease, no plan of the school is held
        retire_held(session, school.id, "superseded by a sync that applied", now=now)
    counts = dict(plan.counts)
    counts.update((f"note_{name}", n) for name, n in {**snapshot.notes, **plan.notes}.items())
    end_run(session, run_id, Outcome.SUCCEEDED, counts)
    values = school_values(snapshot, stamp, now)
    # One statement writes the school, checks the lease and reads the consent again.
    if fence is not None:
        consent = fence(session, values)
    else:
        consent = write_school(session, school.id, values)
    if consent is None:
        raise SchoolNotFound(f"school {school.id} disappeared during run {run_id}")
    if consent != "granted":
        # Revoked while this run worked: nothing of it may stay.
        work.rollback()
        reason = "consent was revoked while the run worked"
        end_run(session, run_id, Outcome.SKIPPED, error=reason)
        work.commit()
        return Outcome.SKIPPED, {}, reason
    work.commit()
    return Outcome.SUCCEEDED, counts, None


def _load(session: Session, school_id: int, run_id: int) -> tuple[School, SyncRun]:
    """The school and the run as ORM objects, for the steps that read or write people."""
    school = session.get(School, school_id)
    run = session.get(SyncRun, run_id)
    if school is None or run is None:
        raise SchoolNotFound(f"school {school_id} or its run {run_id} disappeared during the run")
    return school, run


def _finish(
    work: UnitOfWork,
    run: SyncRun,
    outcome: Outcome,
    counts: dict[str, int],
    error: str | None = None,
) -> Result:
    finish_run(run, outcome, counts, error)
    work.commit()
    return outcome, counts, error
