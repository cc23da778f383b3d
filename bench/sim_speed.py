"""How fast the Basispoort simulator is at national scale: prints timings, asserts nothing.

Run: /tmp/kvenv/bin/python bench/sim_speed.py [--schools 6500] [--fetch 300] [--threads 4]
[--build 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from plugins.basispoort.simulator import SimulatorServer, World, client_ssl_context, make_test_pki
from plugins.basispoort.simulator.server import _json_bytes


def timed(label: str, started: float, extra: str = "") -> None:
    print(f"{label:<48} {1000 * (time.perf_counter() - started):9.1f} ms {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=6500)
    parser.add_argument("--fetch", type=int, default=300, help="schools fetched over HTTPS")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--build", type=int, default=200, help="schools built in process")
    args = parser.parse_args()

    started = time.perf_counter()
    world = World(seed=1, schools=args.schools, sizes=(20, 1200))
    timed(f"World(schools={args.schools}, sizes=(20, 1200))", started)
    largest = world.find("largest")

    started = time.perf_counter()
    pupils = world.leerlingen(largest)["leerlingen"]
    timed("build + render the largest school (in process)", started, f"{len(pupils)} pupils")
    started = time.perf_counter()
    world.leerlingen(largest)
    timed("render it again (cached)", started)
    build_and_render(world, world.school_ids[-args.build :])

    with tempfile.TemporaryDirectory() as directory:
        tls = make_test_pki(directory)
        with SimulatorServer(world, tls=tls) as server:
            context = client_ssl_context(tls)
            with httpx.Client(base_url=server.url, verify=context, timeout=60) as client:
                url = f"rest/v2/instellingen/{largest}/leerlingen"
                client.get(url)  # the TLS handshake, once
                started = time.perf_counter()
                size = len(client.get(url).content)
                timed("GET leerlingen of the largest school (HTTPS)", started, f"{size} bytes")

            ids = world.school_ids[: args.fetch]

            def fetch(school_id: int) -> int:
                with httpx.Client(base_url=server.url, verify=context, timeout=60) as client:
                    return len(client.get(f"rest/v2/instellingen/{school_id}/leerlingen").content)

            started = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                total = sum(pool.map(fetch, ids))
            timed(f"{len(ids)} schools, fresh connection each", started, f"{total} bytes")

            started = time.perf_counter()
            world.advance_night()
            timed(f"advance_night() for {args.schools} schools", started)
            started = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(fetch, ids))
            timed(f"{len(ids)} schools after the night (replayed)", started)


def build_and_render(world: World, ids: list[int]) -> None:
    """CPU of what a sync asks per school (details, then the overview), without HTTP: build,
    payloads, JSON bytes."""
    started, cpu = time.perf_counter(), time.process_time()
    for school_id in ids:
        for view in (world.details, world.overview):
            _json_bytes(view(school_id))
    per_school = 1000 * (time.process_time() - cpu) / max(len(ids), 1)
    timed(
        f"build + render {len(ids)} schools (in process)", started, f"{per_school:.2f} ms CPU each"
    )


if __name__ == "__main__":
    main()
