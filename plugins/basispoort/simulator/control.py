"""The simulator's own endpoints under /_sim/, for tests that run it as a separate process.

- ``GET /_sim/state`` -> ``{night, now, today}``
- ``GET /_sim/schools`` -> ``[{id, brin6, consent, active, merged, merged_into, kinds}]``
- ``POST /_sim/advance-night`` (``?churn=0.02`` or body ``{"churn": 0.02}``) -> as /_sim/state
- ``POST /_sim/consent/{id}?granted=true|false`` -> ``{id, consent}``
- ``POST /_sim/faults`` body ``{"path": regex, "kind": k, "times": 1, "seconds": 1.0,
  "size": 400000000}`` -> 201; the kinds and what they do: faults.py, FAULT_KINDS
- ``DELETE /_sim/faults`` -> every pending fault cleared
- ``POST /_sim/schools/{id}/{edit}`` body: the edit's arguments as a JSON object -> ``{result}``

``{edit}`` is one of remove-pupils {fraction}, add-pupils {count}, empty-school {},
rename-pupil {pupil_id, voornaam?, voorvoegsel?, achternaam?}, move-pupil {pupil_id, group_key},
change-pupil-id {pupil_id}, set-active {actief}, merge {into}. Control requests are never
subject to faults. Errors answer 400 or 404 with a plain-text reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

from plugins.basispoort.simulator.errors import SimulatorError, UnknownSchool
from plugins.basispoort.simulator.faults import BOMB_SIZE, FaultSet
from plugins.basispoort.simulator.payloads import stamp
from plugins.basispoort.simulator.routes import Reply, bad_request, not_found
from plugins.basispoort.simulator.world import World

_CONSENT = re.compile(r"^/_sim/consent/(\d+)$")
_EDIT = re.compile(r"^/_sim/schools/(\d+)/([a-z-]+)$")
_EDITS = {
    "remove-pupils": "remove_pupils",
    "add-pupils": "add_pupils",
    "empty-school": "empty_school",
    "rename-pupil": "rename_pupil",
    "move-pupil": "move_pupil",
    "change-pupil-id": "change_pupil_id",
    "set-active": "set_active",
    "merge": "merge",
}


def answer_control(
    world: World, faults: FaultSet, method: str, path: str, query: dict[str, list[str]], body: bytes
) -> Reply:
    """The answer to one /_sim/ request."""
    try:
        arguments = json.loads(body) if body.strip() else {}
    except ValueError:
        return bad_request("the body is not JSON")
    if not isinstance(arguments, dict):
        return bad_request("the body must be a JSON object")
    try:
        return _answer(world, faults, method, path, query, arguments)
    except UnknownSchool as exc:
        return not_found(str(exc))
    except (SimulatorError, TypeError, ValueError) as exc:
        return bad_request(str(exc))


def _answer(
    world: World,
    faults: FaultSet,
    method: str,
    path: str,
    query: dict[str, list[str]],
    arguments: dict[str, Any],
) -> Reply:
    if (method, path) == ("GET", "/_sim/state"):
        return Reply(200, _state(world))
    if (method, path) == ("GET", "/_sim/schools"):
        return Reply(200, [_school(world, i) for i in world.school_ids])
    if (method, path) == ("POST", "/_sim/advance-night"):
        churn = float(query.get("churn", [arguments.get("churn", 0.02)])[0])
        world.advance_night(churn)
        return Reply(200, _state(world))
    if path == "/_sim/faults" and method == "POST":
        faults.add(
            str(arguments["path"]),
            str(arguments["kind"]),
            times=int(arguments.get("times", 1)),
            seconds=float(arguments.get("seconds", 1.0)),
            size=int(arguments.get("size", BOMB_SIZE)),
        )
        return Reply(201, {"pending": len(faults)})
    if path == "/_sim/faults" and method == "DELETE":
        faults.clear()
        return Reply(200, {"pending": 0})
    if method == "POST" and (match := _CONSENT.match(path)):
        granted = query.get("granted", [""])[0].lower()
        if granted not in ("true", "false"):
            return bad_request("give ?granted=true or ?granted=false")
        school_id = int(match.group(1))
        world.set_consent(school_id, granted == "true")
        return Reply(200, {"id": school_id, "consent": world.school(school_id).consent})
    if method == "POST" and (match := _EDIT.match(path)) and match.group(2) in _EDITS:
        edit = getattr(world, _EDITS[match.group(2)])
        return Reply(200, {"result": edit(int(match.group(1)), **arguments)})
    return not_found("unknown control endpoint; see plugins/basispoort/simulator/control.py")


def _state(world: World) -> dict[str, Any]:
    return {"night": world.night, "now": stamp(world.now), "today": world.today.isoformat()}


def _school(world: World, school_id: int) -> dict[str, Any]:
    header = world.school(school_id)
    return {
        "id": header.id,
        "brin6": header.brin6,
        "consent": header.consent,
        "active": header.actief,
        "merged": header.merged_into is not None,
        "merged_into": header.merged_into,
        "kinds": world.kinds(school_id),
    }
