"""koppel's real engine around one source: a fresh SQLite database, linking, syncing, reading."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core import migrate
from core.connection import ConnectionStatus
from core.db import make_engine, make_sessionmaker
from core.errors import KoppelError
from core.hookspecs import hookimpl
from core.linking import link_school
from core.models import Pupil, School, Staff, SyncRun
from core.plugins import Plugins, make_plugin_manager
from core.sources import IdentitySource
from core.sync.engine import sync_school
from koppel.testing.capture import Said
from koppel.testing.rules import ContractFailure, Rule


@dataclass(frozen=True, slots=True)
class StoredPerson:
    """A person as koppel stored them (what the checks compare)."""

    source_id: str
    eckid: str | None
    first_name: str | None
    last_name: str | None
    roles: tuple[str, ...]
    left_at: datetime | None


class _Registers:
    """A plugin that registers just the source under test."""

    def __init__(self, source: IdentitySource) -> None:
        self.source = source

    @hookimpl
    def koppel_register_identity_sources(self, register: Any) -> None:
        register(self.source)


class KitKoppel:
    """One koppel with only ``source`` installed, on a new SQLite file in ``directory``."""

    def __init__(self, source: IdentitySource, directory: Path, said: Said) -> None:
        self.source = source
        self.said = said
        self.engine = make_engine(f"sqlite:///{directory}/kit-{uuid.uuid4().hex[:8]}.db")
        migrate.upgrade(self.engine)
        self.sessions = make_sessionmaker(self.engine)
        pm = make_plugin_manager(entry_points=False, extra=[_Registers(source)])
        self.plugins = Plugins(pm)

    def close(self) -> None:
        self.engine.dispose()

    def link(self, brin6: str, rule: Rule) -> int:
        """Link the school as 'koppel check' does; the kit cannot go on unless it connects."""
        with self.sessions() as s:
            check = link_school(s, self.plugins, brin6, self.source.name)
            if check.status is not ConnectionStatus.CONNECTED:
                raise ContractFailure(
                    rule,
                    f"check_connection({brin6[:4]!r}, {brin6[4:]!r}) answered "
                    f"{check.status.value} ({check.detail}); the upstream serves that school "
                    "with consent",
                )
            school = s.scalars(select(School).where(School.source == self.source.name)).one()
            return school.id

    def sync(self, school_id: int, *, force: bool = False) -> SyncRun:
        """One sync through core.sync.engine, as 'koppel sync' runs it; failures are recorded."""
        with self.sessions() as s:
            try:
                return sync_school(s, school_id, plugins=self.plugins, force=force)
            except KoppelError as exc:
                self.said.exceptions.append(exc)
            except Exception as exc:
                self.said.exceptions.append(exc)
                raise
            runs = select(SyncRun).where(SyncRun.school_id == school_id)
            return s.scalars(runs.order_by(SyncRun.id.desc())).first()  # type: ignore[return-value]

    def people(self, school_id: int) -> dict[str, StoredPerson]:
        """Everybody koppel holds for the school (left or not), by the source's id."""
        found: dict[str, StoredPerson] = {}
        with self.sessions() as s:
            for model in (Pupil, Staff):
                for row in s.scalars(select(model).where(model.school_id == school_id)):
                    found[row.source_id] = StoredPerson(
                        row.source_id,
                        row.eckid,
                        row.first_name,
                        row.last_name,
                        tuple(getattr(row, "roles", None) or ()),
                        row.left_at,
                    )
        return found

    def run_errors(self) -> list[str]:
        with self.sessions() as s:
            return [e for e in s.scalars(select(SyncRun.error)) if e]
