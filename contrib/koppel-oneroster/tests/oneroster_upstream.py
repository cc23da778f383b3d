"""The kit's Upstream for koppel-oneroster: each roster served is a new OneRoster 1.2 zip."""

from __future__ import annotations

import csv
import io
import os
import shutil
import zipfile
from datetime import date
from pathlib import Path

from koppel.testing import Failure, Roster

MANIFEST = {
    "manifest.version": "1.0",
    "oneroster.version": "1.2",
    "file.academicSessions": "bulk",
    "file.orgs": "bulk",
    "file.users": "bulk",
    "file.roles": "bulk",
    "file.classes": "bulk",
    "file.enrollments": "bulk",
    "file.courses": "absent",
    "file.demographics": "absent",
}
# The 1EdTech OneRoster 1.2 CSV binding's columns (those koppel reads and a few it does not).
HEADERS = {
    "orgs": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
    "parentSourcedId,schoolYear",
    "users": "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,"
    "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,"
    "userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,"
    "preferredFamilyName,primaryOrgSourcedId,pronouns",
    "roles": "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
    "orgSourcedId,userProfileSourcedId",
    "classes": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
    "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "enrollments": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
    "userSourcedId,role,primary,beginDate,endDate",
}
ORG = "org-kit"
DAY_START = 1_767_600_000  # 2026-01-05 09:00 in Amsterdam: every drop is made that day
DROP_DAY = date(2026, 1, 5)
STAMP = "2026-01-05T08:00:00.000Z"


def csv_text(header: str, rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, header.split(","), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_zip(path: Path, files: dict[str, str]) -> None:
    """Write the package as a producer should: to another name first, then renamed in place."""
    partial = path.with_suffix(".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    partial.replace(path)


def package_files(
    roster: Roster, brin6: str, ids: dict[str, str], org_status: str = "active"
) -> dict[str, str]:
    """A whole OneRoster 1.2 bulk package of one school serving ``roster``."""
    users, roles, enrollments = [], [], []
    for p in roster.people:
        uid = ids[p.key]
        users.append(
            {
                "sourcedId": uid,
                "status": "active",
                "dateLastModified": STAMP,
                "enabledUser": "true",
                "username": uid,
                "userIds": f"{{eckid:{p.eckid}}}",
                "givenName": p.first_name or "",
                "familyName": p.last_name or "",
                "middleName": p.prefix or "",
                "email": p.email or "",
                "primaryOrgSourcedId": ORG,
            }
        )
        for n, role in enumerate(p.roles or ("student",)):
            roles.append(
                {
                    "sourcedId": f"role-{uid}-{n}",
                    "status": "active",
                    "userSourcedId": uid,
                    "roleType": "primary" if n == 0 else "secondary",
                    "role": role,
                    "orgSourcedId": ORG,
                }
            )
        if p.group:
            enrollments.append(
                {
                    "sourcedId": f"enr-{uid}",
                    "status": "active",
                    "classSourcedId": p.group,
                    "schoolSourcedId": ORG,
                    "userSourcedId": uid,
                    "role": "student" if p.kind == "pupil" else "teacher",
                }
            )
    classes = [
        {
            "sourcedId": g.key,
            "status": "active",
            "title": g.name,
            "classType": "homeroom",
            "schoolSourcedId": ORG,
            "termSourcedIds": "sy2026",
        }
        for g in roster.groups
    ]
    tables = {
        "orgs": [
            {"sourcedId": ORG, "status": org_status, "name": "Kitschool", "type": "school",
             "identifier": brin6}
        ],
        "academicSessions": [
            {"sourcedId": "sy2026", "status": "active", "title": "2025-2026", "type": "schoolYear",
             "startDate": "2025-08-01", "endDate": "2026-07-31", "schoolYear": "2026"}
        ],
        "users": users,
        "roles": roles,
        "classes": classes,
        "enrollments": enrollments,
    }  # fmt: skip
    files = {"manifest.csv": csv_text("propertyName,value", [
        {"propertyName": k, "value": v} for k, v in MANIFEST.items()
    ])}  # fmt: skip
    files |= {f"{name}.csv": csv_text(HEADERS[name], rows) for name, rows in tables.items()}
    return files


class DirectoryUpstream:
    """One school's zip in ``directory``; every serve is a new drop one second later."""

    brin6 = "99ZZ01"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.zip = directory / "kitschool.zip"
        self.aside = directory.parent / f"{directory.name}-aside"
        self.ids: dict[str, str] = {}
        self.drops = 0
        self.serve(Roster((), ()))  # the school is there from the start, nobody in it yet

    def serve(self, roster: Roster, org_status: str = "active") -> None:
        for person in roster.people:
            self.ids.setdefault(person.key, f"user-{len(self.ids) + 1:04d}")
        self.roster = roster
        write_zip(self.zip, package_files(roster, self.brin6, self.ids, org_status))
        self.drops += 1
        moment = DAY_START + self.drops  # each drop later than the last, whatever the clock
        os.utime(self.zip, (moment, moment))

    def fail(self, failure: Failure | None) -> bool:
        if failure is None:
            if self.aside.is_dir():  # the share is back
                shutil.rmtree(self.directory, ignore_errors=True)
                self.aside.rename(self.directory)
            if (kept := self.aside.with_suffix(".zip")).exists():
                kept.replace(self.zip)
        elif failure == "unreachable":  # the share is gone
            self.directory.rename(self.aside)
        elif failure == "refused":  # the school's zip was withdrawn
            self.zip.replace(self.aside.with_suffix(".zip"))
        else:  # garbled: a drop that is not a zip
            shutil.copy2(self.zip, self.aside.with_suffix(".zip"))
            self.zip.write_bytes(b"PK\x03\x04 this is not really a zip")
        return True

    def set_consent(self, granted: bool) -> date:
        """A new drop listing the school, or marking it tobedeleted; its day lists the change."""
        self.serve(self.roster, "active" if granted else "tobedeleted")
        return DROP_DAY
