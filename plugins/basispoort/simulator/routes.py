"""Instellingen v2 requests to answers: paths, methods, consent and status codes, no sockets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from plugins.basispoort.simulator.errors import UnknownSchool
from plugins.basispoort.simulator.payloads import SEARCH_PARAMETERS
from plugins.basispoort.simulator.world import World

INT64_MAX = 2**63 - 1

_PERMISSION_DAYS = re.compile(
    r"^/rest/v2/instellingen/synchronizationpermission/(toegekend|ingetrokken)/([^/]+)$"
)
_SCHOOL = re.compile(r"^/rest/v2/instellingen/(-?\d{1,19})(/.*)?$")

# Endpoints that hand out the school's data and so need its consent (the permission one does not).
_DATA_ENDPOINTS = {
    ("GET", ""): "overview",
    ("GET", "/details"): "details",
    ("GET", "/groepen"): "groepen",
    ("GET", "/leerlingen"): "leerlingen",
    ("POST", "/leerlingen"): "leerlingen_by_id",
    ("POST", "/leerlingen_eckid"): "leerlingen_by_eckid",
    ("GET", "/staf"): "staf",
    ("GET", "/ref"): "ref",
    ("GET", "/ipadressen"): "ipadressen",
}
_PERMISSION = "/uitgever/synchronizationpermission"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: JSON ``payload``, or ``text`` (plain unless ``media`` says otherwise), or
    neither (an empty body)."""

    status: int
    payload: Any = None
    text: str | None = None
    media: str | None = None

    @property
    def is_json(self) -> bool:
        return self.text is None and self.status != 204


def not_found(what: str = "Niet gevonden") -> Reply:
    return Reply(404, text=what)


def bad_request(what: str) -> Reply:
    return Reply(400, text=what)


def answer_api(
    world: World, method: str, path: str, query: dict[str, list[str]], body: bytes, ipadressen: bool
) -> Reply:
    """The answer Basispoort would give to one request under rest/v2/."""
    if path == "/rest/v2/instellingen":
        return Reply(200, world.visible_ids()) if method == "GET" else _no_method()
    if path == "/rest/v2/nawsearch":
        return _search(world, query) if method == "GET" else _no_method()
    if match := _PERMISSION_DAYS.match(path):
        return _permission_days(world, method, match.group(1), match.group(2))
    if match := _SCHOOL.match(path):
        school_id = int(match.group(1))
        if not -INT64_MAX - 1 <= school_id <= INT64_MAX:
            return not_found()
        return _school(world, method, school_id, match.group(2) or "", query, body, ipadressen)
    return not_found()


def _school(
    world: World,
    method: str,
    school_id: int,
    rest: str,
    query: dict[str, list[str]],
    body: bytes,
    ipadressen: bool,
) -> Reply:
    try:
        header = world.school(school_id)
    except UnknownSchool:
        return not_found("Instelling niet gevonden")
    if rest == _PERMISSION:
        return _permission(world, method, school_id, query)
    endpoint = _DATA_ENDPOINTS.get((method, rest))
    if endpoint is None:
        known = any(r == rest for _, r in _DATA_ENDPOINTS)
        return _no_method() if known else not_found()
    if endpoint == "ipadressen" and not ipadressen:
        return not_found()  # the assumed endpoint is off: 404, as an unknown path
    if not header.consent:
        return Reply(403, text="Geen toestemming van de instelling voor synchronisatie")
    if endpoint == "leerlingen_by_id":
        ids = _json_list(body, int)
        if ids is None:
            return bad_request("Verwacht een JSON-array van leerling-ids")
        return Reply(200, world.leerlingen(school_id, ids=ids))
    if endpoint == "leerlingen_by_eckid":
        eckids = _json_list(body, str)
        if eckids is None:
            return bad_request("Verwacht een JSON-array van ECK iD's")
        return Reply(200, world.leerlingen(school_id, eckids=eckids))
    return Reply(200, getattr(world, endpoint)(school_id))


def _permission(world: World, method: str, school_id: int, query: dict[str, list[str]]) -> Reply:
    header = world.school(school_id)
    if method == "GET":
        # request-permission=true is taken to ask the school; its real effect is unknown.
        if query.get("request-permission", ["false"])[0].lower() == "true" and not header.consent:
            header.permission_requested = True
        return Reply(200, {"hasSynchronizationPermission": header.consent})
    if method == "DELETE":
        world.set_consent(school_id, False)
        return Reply(204)
    return _no_method()


def _permission_days(world: World, method: str, which: str, day_text: str) -> Reply:
    if method != "GET":
        return _no_method()
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        return bad_request(f"Ongeldige datum, verwacht JJJJ-MM-DD: {day_text[:20]}")
    ids = world.granted_on(day) if which == "toegekend" else world.revoked_on(day)
    return Reply(200, ids)


def _search(world: World, query: dict[str, list[str]]) -> Reply:
    criteria = {name: query[name][0] for name in SEARCH_PARAMETERS if name in query}
    active_only = query.get("activeOnly", ["false"])[0].lower() == "true"
    return Reply(200, world.search(criteria, active_only=active_only))


def _json_list(body: bytes, kind: type) -> list[Any] | None:
    try:
        values = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(values, list) or not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in values
    ):
        return None
    return values


def _no_method() -> Reply:
    return Reply(405, text="Methode niet toegestaan")
