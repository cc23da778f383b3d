"""The national benchmark's targets (the issue's limits), checked and printed with every figure."""

from __future__ import annotations

from typing import Any

WORKER_MEMORY_MB = 250


def check_targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target: the measured value, the limit, and whether it passed."""
    nights, reference = result["nights"], result["reference"]
    first, unchanged = nights["first"], nights["unchanged"]
    # Every repeat of the unchanged night (results written before the repeats have one).
    repeats = result.get("unchanged_nights") or [unchanged]
    rate = first["people_written_per_second"] or 0
    # koppel writes into its own tables (foreign keys checked row by row): the plain COPY into
    # empty tables of that same schema is the limit it is measured against. The ratios to the
    # COPY into tables without foreign keys, and without indexes, are reported beside it.
    copy_rate = reference["copy"]["schema_people_per_second"] or 0
    orm_rate = reference["orm"]["people_per_second"] or 0
    every = [*nights.values(), *repeats]
    peak = max((p for night in every for p in night["worker_peak_rss_mb"]), default=0)
    targets = {
        "first night >= 1/4 of plain COPY (same schema)": (
            rate / copy_rate if copy_rate else 0,
            ">=",
            0.25,
        ),
        "first night >= 10x the naive ORM": (rate / orm_rate if orm_rate else 0, ">=", 10.0),
        # Every repeat must write nothing, not just the median one.
        "unchanged night writes no people rows": (
            max(night["people_table_rows_written"] for night in repeats),
            "==",
            0,
        ),
        "unchanged night <= 1/10 of the first's wall time": (
            unchanged["wall_seconds"] / first["wall_seconds"],
            "<=",
            0.1,
        ),
        f"worker peak memory < {WORKER_MEMORY_MB} MB": (peak, "<", WORKER_MEMORY_MB),
    }
    checks = {
        ">=": lambda v, limit: v >= limit,
        "<=": lambda v, limit: v <= limit,
        "<": lambda v, limit: v < limit,
        "==": lambda v, limit: v == limit,
    }
    return {
        name: {"value": round(value, 3), "limit": f"{op} {limit}", "pass": checks[op](value, limit)}
        for name, (value, op, limit) in targets.items()
    }


def print_report(result: dict[str, Any]) -> None:
    settings = result["settings"]
    print(
        f"\n{settings['linked_schools']} schools linked of {settings['simulated_schools']} "
        f"simulated, {settings['workers']} worker processes x {settings['threads']} threads, "
        f"{settings['cores']} cores"
    )
    for label, night in result["nights"].items():
        if "repeats_wall_seconds" in night:
            walls = ", ".join(f"{w:.1f}" for w in night["repeats_wall_seconds"])
            print(f"{label:>9} nights: {walls} s wall; the median one:")
        print(
            f"{label:>9} night: {night['wall_seconds']:8.1f} s wall, "
            f"{night['people_rows_written']:>9,} people rows written "
            f"({night['people_written_per_second'] or 0:,}/s), "
            f"{night['messages']:,} messages ({night['messages_per_second'] or 0:,}/s), "
            f"outcomes {night['outcomes']}"
        )
        print(
            f"{'':>16} people tables {night['people_table_rows_written']:,} rows; "
            f"peak RSS workers {night['worker_peak_rss_mb']} MB, "
            f"scheduler {night['scheduler_peak_rss_mb']} MB; CPU s {night['cpu_seconds']}"
        )
    copy, orm = result["reference"]["copy"], result["reference"]["orm"]
    print(
        f"reference: plain COPY of {copy['people']:,} people rows: "
        f"{copy['schema_people_per_second']:,}/s into koppel's tables (the faster of "
        f"text {copy['schema_text_seconds']} s and binary {copy['schema_binary_seconds']} s), "
        f"{copy['indexed_people_per_second']:,}/s without foreign keys, "
        f"{copy['bare_people_per_second']:,}/s without indexes; naive ORM "
        f"{orm['people_per_second']:,}/s ({orm['people']:,} rows, {orm['schools']} schools)"
    )
    print(f"ratios: {result['ratios']}")
    for name, target in result["targets"].items():
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"  {verdict}  {name}: {target['value']} (limit {target['limit']})")


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """koppel's first-night people/s against each reference point."""
    rate = result["nights"]["first"]["people_written_per_second"] or 0
    copy, orm = result["reference"]["copy"], result["reference"]["orm"]
    found: dict[str, float | None] = {}
    for name, reference in (
        ("koppel/COPY same schema", copy["schema_people_per_second"]),
        ("koppel/COPY no foreign keys", copy["indexed_people_per_second"]),
        ("koppel/COPY no indexes", copy["bare_people_per_second"]),
        ("koppel/naive ORM", orm["people_per_second"]),
    ):
        found[name] = round(rate / reference, 3) if reference else None
    return found
