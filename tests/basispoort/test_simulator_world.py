"""The simulator's world stays the same world: pinned digests, and the fast paths that keep it."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest

from plugins.basispoort.simulator import World
from plugins.basispoort.simulator.draws import chooser
from plugins.basispoort.simulator.faults import wrong_types
from plugins.basispoort.simulator.server import _json_bytes

# Digests of everything served by these worlds over three nights with edits, taken from the code
# before the simulator was made faster (commit 097e8a5). Tests and the national benchmark
# rely on a seed giving the same schools, people, ids and ECK iDs: a changed digest means a
# random draw moved. Restore the draws; do not update these.
PINNED = {
    (7, 12, (20, 400), 64): "ab2f3fe8d629ea635299a8ad5817cf1a4a648b7063e3d7884b3ff8eb65c6bc17",
    (11, 10, (20, 1200), 2): "749fe27794e697bcd3df7cc3dfd68408decdce49b7b98ef8224b96466301f2b4",
}


def _world_digest(seed: int, schools: int, sizes: tuple[int, int], cache_size: int) -> str:
    world = World(seed=seed, schools=schools, sizes=sizes, cache_size=cache_size)
    digest = hashlib.sha256()
    views = (world.overview, world.details, world.groepen, world.leerlingen, world.staf)

    def render() -> None:
        for school_id in world.school_ids:
            for view in views:
                body = json.dumps(view(school_id), sort_keys=True, ensure_ascii=False)
                digest.update(body.encode())

    render()
    school_id = world.find("consented")
    added = world.add_pupils(school_id, 5)
    world.rename_pupil(school_id, added[0])
    world.remove_pupils(school_id, 0.1)
    for night in range(3):
        world.advance_night(0.05 if night % 2 else 0.02)
        render()
    return digest.hexdigest()


@pytest.mark.parametrize("world", sorted(PINNED), ids=str)
def test_a_seed_gives_the_same_world_as_before(world: tuple[Any, ...]) -> None:
    # A small cache (2) makes schools leave it and be rebuilt and replayed from their seed.
    assert _world_digest(*world) == PINNED[world]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 20, 44, 63, 64, 65, 100])
def test_chooser_draws_what_random_choice_draws(size: int) -> None:
    items = list(range(size))
    fast, plain = random.Random(f"c{size}"), random.Random(f"c{size}")
    choose = chooser(fast, items)
    assert [choose() for _ in range(500)] == [plain.choice(items) for _ in range(500)]
    assert fast.getstate() == plain.getstate()


def test_json_bytes_are_those_of_json_dumps() -> None:
    world = World(seed=7, schools=12)
    world.advance_night()
    payloads = [world.overview(i) for i in world.school_ids] + [world.visible_ids()]
    for payload in payloads + [wrong_types(p) for p in payloads]:
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        assert _json_bytes(payload) == plain


def test_json_bytes_fall_back_for_what_orjson_refuses() -> None:
    payload = {"result": [2**70], "1": {2: "x"}}
    assert json.loads(_json_bytes(payload)) == json.loads(json.dumps(payload))
