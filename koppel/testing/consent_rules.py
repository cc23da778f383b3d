"""The consent feed: well-formed day lists that show a revocation and a grant where they belong."""

from __future__ import annotations

from datetime import date

from core.snapshot import ConsentChanges
from koppel.testing.rules import Rule, require
from koppel.testing.run import KitRun


def well_formed(changes: object) -> ConsentChanges:
    rule = Rule.CONSENT
    require(
        isinstance(changes, ConsentChanges),
        rule,
        f"consent_changes returned {type(changes).__name__}, not a ConsentChanges",
    )
    assert isinstance(changes, ConsentChanges)
    for name in ("granted", "revoked"):
        ids = getattr(changes, name)
        require(isinstance(ids, tuple), rule, f"{name} is a {type(ids).__name__}, not a tuple")
        require(
            all(isinstance(i, str) and i for i in ids),
            rule,
            f"{name} holds something that is not a source school id (non-empty text)",
        )
        require(len(set(ids)) == len(ids), rule, f"{name} lists a school twice")
    both = set(changes.granted) & set(changes.revoked)
    require(not both, rule, f"{len(both)} schools are listed as both granted and revoked")
    return changes


def consent_changes_well_formed(run: KitRun) -> None:
    rule = Rule.CONSENT
    if not run.source.capabilities.consent_feed:
        return
    school = run.school(rule)
    try:
        revoked_on = run.upstream.set_consent(False)
        if revoked_on is None:  # no feed to drive: the shape of today's lists still counts
            well_formed(run.source.consent_changes(date.today()))
            return
        changes = well_formed(run.source.consent_changes(revoked_on))
        require(
            school in changes.revoked,
            rule,
            "a school that revoked its consent is missing from that day's revoked list",
        )
        granted_on = run.upstream.set_consent(True)
        assert granted_on is not None
        changes = well_formed(run.source.consent_changes(granted_on))
        require(
            school in changes.granted and school not in changes.revoked,
            rule,
            "a school that granted its consent again is not (only) in that day's granted list",
        )
    finally:
        run.upstream.set_consent(True)
