"""Two or more koppel codes side by side: the same logins, in alternated short batches.

    KOPPEL_BENCH_POSTGRES_URL=postgresql+psycopg://... python -m bench.login_ab \\
        --server base=/path/to/other/checkout --server main=. \\
        [--server main-8=.:KOPPEL_API_THREADS=8] [--rounds 6] [--seconds 3]

On a shared machine two runs of bench/logins minutes apart differ by more than most changes:
the machine's speed drifts. Here every server (``NAME=CHECKOUT[:VAR=VALUE,...]``, each
'koppel api' run from its checkout with the variables given) serves the one seeded database at
once, and each round gives every server in turn a batch of evaluate decisions and a batch of
full logins. Printed: each batch's API CPU per request or login, and the medians.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from bench.login_rate import LoginBench, Server, free_port, full_logins, login_bench, wait_until_up
from bench.processes import Service


def parse_server(text: str) -> tuple[str, Path, dict[str, str]]:
    name, _, rest = text.partition("=")
    checkout, _, variables = rest.partition(":")
    env = dict(pair.split("=", 1) for pair in variables.split(",") if pair)
    return name, Path(checkout).resolve(), env


def start(run: LoginBench, name: str, checkout: Path, env: dict[str, str]) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_env = {**run.server_env(url), **env}
    # Started in its checkout, 'koppel api' runs that checkout's code.
    service = Service(name, ["api", "--port", str(port)], server_env, run.logs, cwd=checkout)
    server = Server(name, url, service)
    try:
        wait_until_up(server, run.token, timeout=300)  # one process: up once it answers
    except BaseException:
        service.stop(timeout=10)  # not in run.servers yet: run.close() would not stop it
        raise
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", action="append", required=True, type=parse_server)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--pupils", type=int, default=300)
    args = parser.parse_args()
    settings = argparse.Namespace(
        seconds=args.seconds,
        warmup=1,
        connections=args.connections,
        schools=args.schools,
        pupils=args.pupils,
        api_processes=1,
        profile=None,
    )
    spent: dict[tuple[str, str], list[float]] = {}
    with login_bench(settings, "koppel-login-ab-") as run:
        run.seed()
        for name, checkout, env in args.server:
            run.servers[name] = start(run, name, checkout, env)
        for round_ in range(1, args.rounds + 1):
            for name in run.servers:
                evaluated = run.evaluate(f"{name}-{round_}", name, inside=True)
                full = full_logins(run, name)
                for scenario, figures in (("evaluate", evaluated), ("full", full)):
                    cpu = figures.api_cpu_ms_per_request or 0.0
                    spent.setdefault((name, scenario), []).append(cpu)
                    print(
                        f"round {round_} {name:>10} {scenario:>8}: "
                        f"{figures.requests / args.seconds:7.1f} /s, API {cpu:6.3f} ms",
                        flush=True,
                    )
    print("medians of the API's CPU per request (evaluate) or login (full), with the range:")
    for (name, scenario), values in spent.items():
        print(
            f"  {name:>10} {scenario:>8}: {statistics.median(values):6.3f} ms "
            f"({min(values):.3f}-{max(values):.3f})"
        )


if __name__ == "__main__":
    main()
