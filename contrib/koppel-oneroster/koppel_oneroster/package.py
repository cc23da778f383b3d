"""One OneRoster CSV package (a zip): its manifest checked, its tables read by column name.

Errors name the zip, the file, the line and the column, never a value read from it: the
values are pupils' and staff members' personal data.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from koppel.plugin import SourceDataError, SourceUnavailable
from koppel_oneroster.rostering import Rostering

# The columns koppel reads from each file (the 1EdTech OneRoster 1.2 CSV binding's names).
COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "status", "name", "type", "identifier"),
    "users": ("sourcedId", "status", "givenName", "familyName", "userIds", "email"),
    "roles": ("sourcedId", "status", "userSourcedId", "role", "orgSourcedId"),
    "classes": ("sourcedId", "status", "title", "classType", "schoolSourcedId"),
    "enrollments": (
        "sourcedId",
        "status",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
    ),
    "academicSessions": ("sourcedId", "status", "title", "type", "startDate", "endDate"),
}
# OneRoster 1.1 (and many 1.2 exports) keep a user's role and orgs in users.csv, not roles.csv.
USERS_WITH_ROLES = ("role", "orgSourcedIds")
REQUIRED = ("orgs", "users")  # a package without these says nothing about a school
BULK_ONLY_HINT = (
    "koppel-oneroster reads bulk packages only: ask the school's administration system for a "
    "full (bulk) OneRoster export and drop that zip in the directory instead; the school keeps "
    "its last good data meanwhile"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _stamp_of(path: Path) -> datetime:
    """When the zip was last written, to the microsecond: moves whenever a drop replaces it."""
    try:
        nanoseconds = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise SourceUnavailable(f"{path.name} was removed while being read") from None
    return _EPOCH + timedelta(microseconds=nanoseconds // 1000)


def read_package(path: Path, only: tuple[str, ...] = tuple(COLUMNS)) -> Rostering:
    """Read and check the zip at ``path`` (its manifest, and the files named in ``only``: the
    others read as empty); SourceDataError names what is wrong, where."""
    stamp = _stamp_of(path)  # before reading: a drop replacing it meanwhile is seen next night
    try:
        with zipfile.ZipFile(path) as archive:
            modes = _manifest(archive, path.name)
            wanted = dict(COLUMNS)
            if modes["roles"] == "absent":
                wanted["users"] += USERS_WITH_ROLES
            tables = {
                name: _table(archive, path.name, name, modes[name], wanted[name])
                if name in only
                else []
                for name in COLUMNS
            }
    except (zipfile.BadZipFile, zlib.error, EOFError):  # not a zip, or a damaged one
        raise SourceDataError(
            f"{path.name} is not a zip file",
            hint="replace it with the OneRoster CSV export (a zip) of the school",
        ) from None
    except OSError as exc:  # a share that went away: worth trying again later
        raise SourceUnavailable(f"{path.name} could not be read: {exc.strerror}") from None
    return Rostering(
        origin=path.name,
        place=_csv_line,
        stamp=stamp,
        orgs=tables["orgs"],
        users=tables["users"],
        roles=tables["roles"] if modes["roles"] == "bulk" else None,
        classes=tables["classes"],
        enrollments=tables["enrollments"],
        academic_sessions=tables["academicSessions"],
    )


def _csv_line(table: str, index: int) -> str:
    return f"{table}.csv line {index + 2}"  # line 1 is the header


def _manifest(archive: zipfile.ZipFile, zip_name: str) -> dict[str, str]:
    """Each file's mode ("bulk" or "absent"); a delta file is refused with what to do."""
    rows = _table(archive, zip_name, "manifest", "bulk", columns=("propertyName", "value"))
    properties = {row["propertyName"].strip(): row["value"].strip().lower() for row in rows}
    modes = {}
    for name in COLUMNS:
        mode = properties.get(f"file.{name}", "absent")
        if mode == "delta":
            raise SourceDataError(
                f"{zip_name}: the manifest marks {name}.csv as a delta file", hint=BULK_ONLY_HINT
            )
        if mode not in ("bulk", "absent"):
            raise SourceDataError(
                f"{zip_name}: manifest.csv gives file.{name} the mode {mode!r}; "
                "OneRoster allows bulk, delta or absent"
            )
        if mode == "absent" and name in REQUIRED:
            raise SourceDataError(
                f"{zip_name}: the manifest marks {name}.csv absent; koppel needs it in bulk",
                hint=BULK_ONLY_HINT,
            )
        modes[name] = mode
    return modes


def _table(
    archive: zipfile.ZipFile,
    zip_name: str,
    name: str,
    mode: str,
    columns: tuple[str, ...],
) -> list[dict[str, str]]:
    """The rows of ``name``.csv (none when absent), every column koppel reads present."""
    if mode == "absent":
        return []
    filename = f"{name}.csv"
    try:
        raw = archive.read(filename)
    except KeyError:
        raise SourceDataError(
            f"{zip_name}: {filename} is missing"
            + ("" if name == "manifest" else " though the manifest lists it as bulk"),
            hint="a OneRoster CSV package holds manifest.csv and each file it lists",
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceDataError(
            f"{zip_name}: {filename} is not UTF-8 text (byte {exc.start})",
            hint="OneRoster CSV files are UTF-8; export the package again",
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows: list[dict[str, str]] = []
    try:
        missing = [column for column in columns if column not in (reader.fieldnames or ())]
        if missing:
            raise SourceDataError(
                f"{zip_name}: {filename} lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}",
                hint="export the package again with OneRoster's column names (1EdTech CSV)",
            )
        for row in reader:
            if None in row:  # more fields than the header names
                raise SourceDataError(
                    f"{zip_name}: {filename} line {reader.line_num} has more fields than its header"
                )
            rows.append({key: value or "" for key, value in row.items()})
    except csv.Error:  # raised before the reader counts the line it choked on
        raise SourceDataError(
            f"{zip_name}: {filename} line {reader.line_num + 1} is not valid CSV"
        ) from None
    return rows
