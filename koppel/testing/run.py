"""What every check is given: the source, its upstream, a directory for databases, and ears."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from core.connection import ConnectionStatus
from core.sources import IdentitySource
from koppel.testing.capture import Said
from koppel.testing.engine import KitKoppel
from koppel.testing.roster import Roster
from koppel.testing.rules import ContractFailure, Rule
from koppel.testing.upstream import Failure, Upstream


@dataclass
class KitRun:
    """One check's run; ``served`` gathers the personal data of every roster served."""

    source: IdentitySource
    upstream: Upstream
    directory: Path
    said: Said = field(default_factory=Said)
    served: set[str] = field(default_factory=set)

    def serve(self, roster: Roster) -> Roster:
        self.served |= roster.personal_data
        self.upstream.serve(roster)
        return roster

    def school(self, rule: Rule) -> str:
        """The source's id of the upstream's school, found by check_connection."""
        brin6 = self.upstream.brin6
        check = self.source.check_connection(brin6[:4], brin6[4:])
        if check.status is not ConnectionStatus.CONNECTED or check.school is None:
            raise ContractFailure(
                rule, f"check_connection did not find {brin6} connected ({check.status.value})"
            )
        return check.school.source_school_id

    @contextmanager
    def koppel(self) -> Iterator[KitKoppel]:
        koppel = KitKoppel(self.source, self.directory, self.said)
        try:
            yield koppel
        finally:
            koppel.close()

    @contextmanager
    def failing(self, failure: Failure) -> Iterator[bool]:
        """The upstream failing as ``failure`` (False: it cannot), healed afterwards."""
        try:
            yield bool(self.upstream.fail(failure))
        finally:
            self.upstream.fail(None)
