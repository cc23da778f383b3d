"""The sync lifecycle hooks: before and after every run, with ids, outcome and counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.hookspecs import hookimpl
from core.models import SyncRun
from core.plugins import Plugins, make_plugin_manager
from core.sync.engine import sync_school


class Watcher:
    """A plugin that records what it is told and reads the run as the database holds it."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def koppel_before_school_sync(self, school_id: int, source: str, run_id: int) -> None:
        outcome = self.session.scalar(select(SyncRun.outcome).where(SyncRun.id == run_id))
        self.seen.append(("before", {"school_id": school_id, "source": source, "stored": outcome}))

    @hookimpl
    def koppel_after_school_sync(
        self, school_id: int, source: str, run_id: int, outcome: str, counts: dict[str, int]
    ) -> None:
        stored = self.session.scalar(select(SyncRun.outcome).where(SyncRun.id == run_id))
        self.seen.append(("after", {"outcome": outcome, "stored": stored, "counts": counts}))
        raise RuntimeError("an observer failing must not change the run")


def test_hooks_see_the_run_start_and_end(db, school, plugin):
    watcher = Watcher(db)
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[plugin, watcher]))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"
    (before, start), (after, end) = watcher.seen
    assert (before, start) == (
        "before",
        {"school_id": school.id, "source": "fake", "stored": "running"},
    )
    assert after == "after"
    assert end["outcome"] == end["stored"] == "succeeded"  # called once the run is committed
    assert end["counts"]["pupils_created"] == 20


class Timing:
    """A wrapper=True observer of run ends: pluggy calls it around each observing plugin."""

    def __init__(self) -> None:
        self.wrapped: list[int] = []

    @hookimpl(wrapper=True)
    def koppel_after_school_sync(self, run_id: int) -> Any:
        try:
            return (yield)
        finally:
            self.wrapped.append(run_id)


def test_a_wrapper_wraps_each_observer_and_a_failing_one_stops_no_other(db, school, plugin):
    watcher, timing = Watcher(db), Timing()
    plugins = Plugins(make_plugin_manager(entry_points=False, extra=[plugin, watcher, timing]))

    run = sync_school(db, school.id, plugins=plugins)

    assert run.outcome == "succeeded"
    assert timing.wrapped == [run.id, run.id]  # around the watcher (which raised), then the plugin
    assert [event for event, _ in watcher.seen] == ["before", "after"]
    assert [event for event, _ in plugin.events] == ["before", "after"]
