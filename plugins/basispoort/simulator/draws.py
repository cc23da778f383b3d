"""``Random.choice`` for hot loops: the very same draws from the generator, fewer Python calls."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def chooser(rng: random.Random, items: Sequence[T]) -> Callable[[], T]:
    """A function returning ``rng.choice(items)``; ``items`` must be non-empty and stay as is.

    random.Random.choice(seq) is seq[rng._randbelow(len(seq))], and _randbelow draws
    getrandbits(len(seq).bit_length()) until the number is below len(seq). Doing that here
    spares two Python calls per draw (a sixth of the simulator's time went into choice), and
    keeps every draw: worlds replay from their seed, so the stream must not change.
    tests/basispoort/test_simulator_world.py checks this against Random.choice itself.
    """
    getrandbits = rng.getrandbits
    count = len(items)
    bits = count.bit_length()

    def choose() -> T:
        r = getrandbits(bits)
        while r >= count:
            r = getrandbits(bits)
        return items[r]

    return choose
