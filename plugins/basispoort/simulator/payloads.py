"""The JSON shapes of Instellingen v2, field for field (see docs/basispoort-api.md).

Optional person keys follow both habits a client must accept: ``eckid`` and ``lasKey`` are left
out when a person has none, other optional fields are sent as null.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from plugins.basispoort.simulator.state import (
    Group,
    Pupil,
    SchoolContents,
    SchoolHeader,
    StaffMember,
)

Json = dict[str, Any]

SEARCH_PARAMETERS = ("naam", "brincode", "adres", "postcode", "plaatsnaam", "bestuurscode")


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC, e.g. 2025-09-02T03:14:15Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta_result(mutated_at: datetime, now: datetime) -> Json:
    return {"mutationTimestamp": stamp(mutated_at), "generationTimestamp": stamp(now)}


def group(g: Group) -> Json:
    return {
        "lasKey": g.las_key,
        "naam": g.naam,
        "jaargroep": g.jaargroep,
        "omschrijving": g.omschrijving,
    }


def student(p: Pupil) -> Json:
    body: Json = {"id": p.id}
    if p.eckid is not None:
        body["eckid"] = p.eckid
    if p.las_key is not None:
        body["lasKey"] = p.las_key
    body["persoonsgegevens"] = _persoonsgegevens(p)
    body["jaargroep"] = None if p.jaargroep is None else str(p.jaargroep)
    body["groep"] = p.groep
    body["subgroepen"] = list(p.subgroepen)
    return body


def staff_member(m: StaffMember) -> Json:
    body: Json = {"id": m.id}
    if m.eckid is not None:
        body["eckid"] = m.eckid
    if m.las_key is not None:
        body["lasKey"] = m.las_key
    body["persoonsgegevens"] = _persoonsgegevens(m)
    body["emailadres"] = m.emailadres
    body["einddatum"] = None if m.einddatum is None else m.einddatum.isoformat()
    body["rollen"] = list(m.rollen)
    body["groepen"] = list(m.groepen)
    body["subgroepen"] = list(m.subgroepen)
    return body


def groepen(contents: SchoolContents, now: datetime) -> Json:
    return {
        "groepen": [group(g) for g in contents.groepen],
        "subgroepen": [group(g) for g in contents.subgroepen],
        "metaResult": meta_result(contents.mutated_at, now),
    }


def leerlingen(
    contents: SchoolContents,
    now: datetime,
    ids: Iterable[int] | None = None,
    eckids: Iterable[str] | None = None,
) -> Json:
    """All pupils, or only those with the given ids or ECK iDs (unknown ones are skipped)."""
    pupils: Iterable[Pupil] = contents.pupils.values()
    if ids is not None:
        wanted = set(ids)
        pupils = [p for p in pupils if p.id in wanted]
    if eckids is not None:
        wanted_eckids = set(eckids)
        pupils = [p for p in pupils if p.eckid is not None and p.eckid in wanted_eckids]
    return {
        "leerlingen": [student(p) for p in pupils],
        "metaResult": meta_result(contents.mutated_at, now),
    }


def staf(contents: SchoolContents, now: datetime) -> Json:
    return {
        "medewerkers": [staff_member(m) for m in contents.staff.values()],
        "metaResult": meta_result(contents.mutated_at, now),
    }


def overview(header: SchoolHeader, contents: SchoolContents, now: datetime) -> Json:
    return {
        "groepen": [group(g) for g in contents.groepen],
        "subgroepen": [group(g) for g in contents.subgroepen],
        "leerlingen": [student(p) for p in contents.pupils.values()],
        "medewerkers": [staff_member(m) for m in contents.staff.values()],
        "actief": header.actief,
        "gefuseerdNaar": header.merged_into,
        "metaResult": meta_result(contents.mutated_at, now),
    }


def details(header: SchoolHeader, mutated_at: datetime, now: datetime) -> Json:
    return {
        "naam": header.naam,
        "straat": header.straat,
        "huisnummer": header.huisnummer,
        "huisnummertoevoeging": header.toevoeging,
        "postcode": header.postcode,
        "woonplaats": header.woonplaats,
        "brincode": header.brin,
        "dependancecode": header.location,
        "schoolkey": f"SK{header.id}",
        "instellingRef": header.instelling_ref,
        "bestuurscode": header.bestuurscode,
        "actief": header.actief,
        "gefuseerdNaar": header.merged_into,
        "metaResult": meta_result(mutated_at, now),
    }


def search_result(header: SchoolHeader) -> Json:
    """One nawsearch hit: here ``brincode`` includes the location code, e.g. 12AB00."""
    return {
        "id": header.id,
        "naam": header.naam,
        "actief": header.actief,
        "brincode": header.brin6,
        "straat": header.straat,
        "huisnummer": header.huisnummer,
        "huisnummerToevoeging": header.toevoeging,
        "postcode": header.postcode,
        "woonplaats": header.woonplaats,
        "telefoonNet": header.telefoon_net,
        "telefoonAbon": header.telefoon_abon,
        "emailadres": header.emailadres,
        "bestuurscode": header.bestuurscode,
    }


def matches(header: SchoolHeader, criteria: Mapping[str, str], active_only: bool) -> bool:
    """nawsearch semantics: every given criterion must hold; text compares case-insensitively.

    ``brincode`` is a prefix of the hit's BRIN6, so "12AB00" finds one location and "12AB"
    finds them all; a client must still compare the hit's brincode exactly.
    """
    if active_only and not header.actief:
        return False
    for name, raw in criteria.items():
        value = raw.strip().casefold()
        if not value:
            continue
        if name == "naam" and value not in header.naam.casefold():
            return False
        if name == "brincode" and not header.brin6.casefold().startswith(value):
            return False
        if name == "adres":
            address = f"{header.straat} {header.huisnummer}{header.toevoeging or ''}".casefold()
            if value not in address:
                return False
        if (
            name == "postcode"
            and value.replace(" ", "") != header.postcode.replace(" ", "").casefold()
        ):
            return False
        if name == "plaatsnaam" and value != header.woonplaats.casefold():
            return False
        if name == "bestuurscode" and value != header.bestuurscode:
            return False
    return True


def _persoonsgegevens(person: Pupil | StaffMember) -> Json:
    return {
        "achternaam": person.achternaam,
        "voornaam": person.voornaam,
        "voorvoegsel": person.voorvoegsel,
        "voorletters": person.voorletters,
    }
