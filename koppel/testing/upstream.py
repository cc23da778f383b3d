"""The Upstream protocol: how the kit makes a source's upstream serve what it asks.

A plugin author implements it over a test server, a simulator or files in a directory.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Protocol, runtime_checkable

from koppel.testing.roster import Roster

# unreachable: every request fails as a network outage or a 5xx does (SourceUnavailable);
# refused: the upstream refuses us, 401/403 (SourceRefused);
# garbled: whole answers that break the upstream's format (SourceDataError).
Failure = Literal["unreachable", "refused", "garbled"]
FAILURES: tuple[Failure, ...] = ("unreachable", "refused", "garbled")


@runtime_checkable
class Upstream(Protocol):
    """Makes one school's upstream serve what the kit asks.

    ``brin6`` is the school the upstream serves, with consent; the source's check_connection
    must find it. The kit calls ``serve`` with whole rosters; a person's ``key`` names the same
    person in every roster (give them the same upstream id each time).
    """

    brin6: str

    def serve(self, roster: Roster) -> None:
        """From now on serve exactly ``roster`` for the school, replacing what was served."""

    def fail(self, failure: Failure | None) -> bool:
        """Make every request fail as ``failure`` until called with None (healed).

        Returns False when this upstream cannot fail that way (the kit skips that case).
        """

    def set_consent(self, granted: bool) -> date | None:
        """Grant or revoke the school's consent; returns the day (in the source's calendar)
        whose consent changes list it, or None when the upstream has no consent feed."""
