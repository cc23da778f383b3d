"""What the export of a school must say after a sync of a snapshot (built from the snapshot)."""

from __future__ import annotations

from typing import Any

from core.snapshot import SchoolSnapshot


def _names(person: Any) -> dict[str, str | None]:
    return {
        "first_name": person.first_name,
        "prefix": person.prefix,
        "last_name": person.last_name,
        "initials": person.initials,
    }


def expected_people(snapshot: SchoolSnapshot) -> dict[str, list[dict[str, Any]]]:
    """Groups, pupils and staff as export_school shows them, all present (left False)."""
    groups = sorted(
        (
            {
                "key": g.key,
                "kind": str(g.kind),
                "name": g.name,
                "year_group": g.year_group,
                "left": False,
            }
            for g in snapshot.groups
        ),
        key=lambda g: (g["kind"], g["key"]),
    )
    pupils = [
        {
            "source_id": p.source_id,
            "eckid": p.eckid,
            "las_key": p.las_key,
            "names": _names(p),
            "year_group": p.year_group,
            "group": p.group_key,
            "subgroups": sorted(set(p.subgroup_keys)),
            "left": False,
        }
        for p in sorted(snapshot.pupils, key=lambda p: p.source_id)
    ]
    staff = [
        {
            "source_id": s.source_id,
            "eckid": s.eckid,
            "las_key": s.las_key,
            "names": _names(s),
            "email": s.email,
            "end_date": s.end_date.isoformat() if s.end_date else None,
            "roles": sorted(set(s.roles)),
            "groups": sorted(set(s.group_keys)),
            "subgroups": sorted(set(s.subgroup_keys)),
            "left": False,
        }
        for s in sorted(snapshot.staff, key=lambda s: s.source_id)
    ]
    return {"groups": groups, "pupils": pupils, "staff": staff}


def people_of(export: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {k: export[k] for k in ("groups", "pupils", "staff")}
