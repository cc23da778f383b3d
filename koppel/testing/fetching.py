"""The kit's view of one fetch: what the source answered, and the exception class it owed."""

from __future__ import annotations

from core.errors import SourceDataError, SourceError, SourceRefused, SourceUnavailable
from core.snapshot import SchoolSnapshot
from core.sources import IdentitySource
from koppel.testing.capture import Said
from koppel.testing.rules import ContractFailure, Rule
from koppel.testing.upstream import Failure

OWED: dict[Failure, type[SourceError]] = {
    "unreachable": SourceUnavailable,
    "refused": SourceRefused,
    "garbled": SourceDataError,
}


def fetch(
    source: IdentitySource, school: str, said: Said, rule: Rule, *, owed: type[SourceError] | None
) -> SchoolSnapshot | None:
    """fetch_snapshot, or None when it raised an error of the ``owed`` class.

    Any other exception is the source's crash, reported under ``rule``.
    """
    try:
        snapshot = source.fetch_snapshot(school)
    except Exception as exc:
        said.exceptions.append(exc)
        if owed is not None and isinstance(exc, owed):
            return None
        wanted = "a snapshot" if owed is None else f"{owed.__name__} (or a whole snapshot)"
        raise ContractFailure(
            rule, f"fetch_snapshot raised {type(exc).__name__} where koppel expects {wanted}"
        ) from exc
    if not isinstance(snapshot, SchoolSnapshot):
        raise ContractFailure(
            rule, f"fetch_snapshot returned {type(snapshot).__name__}, not a SchoolSnapshot"
        )
    return snapshot
