"""What a hostile Basispoort answer costs the client: prints figures, asserts nothing.

A gzip bomb (400 MB from 400 KB): the process's peak RSS before and after the request; it is
refused once the answer passes KOPPEL_BASISPOORT_MAX_RESPONSE_BYTES. A trickle (the whole answer
one byte every --trickle seconds, far below the read timeout): how long the request is held; the
request deadline ends it. Run it in a fresh process, since peak RSS only grows:

    python -m bench.hostile_answers [--bomb 400000000] [--trickle 3] [--deadline 10]
"""

from __future__ import annotations

import argparse
import resource
import time

from core.errors import KoppelError
from plugins.basispoort.client import BasispoortClient
from plugins.basispoort.settings import BasispoortSettings
from plugins.basispoort.simulator import SimulatorServer, World
from plugins.basispoort.simulator.faults import gzip_bomb


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def attempt(client: BasispoortClient, school_id: str) -> str:
    try:
        client.details(school_id)
    except KoppelError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb", type=int, default=400_000_000, help="bytes it inflates to")
    parser.add_argument("--trickle", type=float, default=3.0, help="seconds between bytes")
    parser.add_argument("--deadline", type=float, default=10.0, help="request deadline, s")
    args = parser.parse_args()

    gzip_bomb(args.bomb)  # made before measuring: the simulator runs in this process
    with SimulatorServer(World(seed=1, schools=12)) as server:
        school_id = str(server.world.find("consented"))
        settings = BasispoortSettings(
            url=server.url, retries=0, read_timeout=10.0, request_deadline=args.deadline
        )
        with BasispoortClient(settings) as client:
            before = peak_mb()
            server.faults.add(r"/details$", "gzip_bomb", size=args.bomb)
            outcome = attempt(client, school_id)
            print(f"gzip bomb of {args.bomb} bytes: peak RSS {before:.0f} -> {peak_mb():.0f} MB")
            print(f"  {outcome}")
            server.faults.add(r"/details$", "trickle", seconds=args.trickle)
            started = time.monotonic()
            outcome = attempt(client, school_id)
            print(f"trickle of a byte every {args.trickle:g} s: {time.monotonic() - started:.1f} s")
            print(f"  {outcome}")


if __name__ == "__main__":
    main()
