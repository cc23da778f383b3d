"""Where one evaluate decision's CPU goes: each part timed by its thread's CPU clock, in process.

    KOPPEL_BENCH_POSTGRES_URL=postgresql+psycopg://... python -m bench.login_parts \\
        [--logins 3000] [--denied]

Seeds a fresh database as bench/logins does, then calls the evaluate route's work (what
api.logins.answer_login does on its thread, without HTTP) for each seeded pupil in turn, with
the parts of the decision wrapped in timers. Parts nest: a part's time includes the parts
called inside it. Thread CPU, not wall time, so waiting for PostgreSQL counts for nothing and
a busy machine disturbs the figures less than requests per second.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import sys
import time
from typing import Any

from bench.login_rate import HOME, LoginBench, login_bench

# (module, attribute, shown as): what is timed, outermost first.
PARTS = (
    ("api.logins", "retry_once_on_disconnect", "the decision, session to answer"),
    ("api.logins", "decide_login", "  decide_login"),
    ("core.login.decide", "resolve_identity", "    the login statement (resolve_identity)"),
    ("sqlalchemy.engine", "Connection.execute", "      Connection.execute (every statement)"),
    ("core.pg_cursor", "DescribedOnce.description", "        the cursor's description"),
    ("core.login.decide", "evaluate_login", "    rules, policies, audit, log line"),
    ("core.login.evaluate", "_judge", "      the policies"),
    ("core.login.evaluate", "record_decision", "      the audit rows"),
    ("structlog.stdlib", "BoundLogger.info", "      the log line"),
    ("sqlalchemy.orm", "Session.commit", "  Session.commit"),
    ("sqlalchemy.orm", "Session.close", "  Session.close"),
    ("api.logins", "_answer", "  the answer model"),
    ("api.logins", "count_login", "  Prometheus counters"),
)


def timed(spent: collections.Counter[str]) -> None:
    """Wrap every part in PARTS so that its thread CPU adds up in ``spent``."""
    import importlib

    for module_name, attribute, label in PARTS:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for step in path:
            owner = getattr(owner, step)
        original = owner.__dict__.get(name, getattr(owner, name))
        if isinstance(original, property):
            getter = original.fget

            def timed_get(self: Any, _get: Any = getter, _label: str = label) -> Any:
                started = time.thread_time()
                try:
                    return _get(self)
                finally:
                    spent[_label] += time.thread_time() - started

            setattr(owner, name, property(timed_get))
            continue

        @functools.wraps(original)
        def timed_call(*args: Any, _call: Any = original, _label: str = label, **kw: Any) -> Any:
            started = time.thread_time()
            try:
                return _call(*args, **kw)
            finally:
                spent[_label] += time.thread_time() - started

        setattr(owner, name, timed_call)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=3000)
    parser.add_argument("--denied", action="store_true", help="from home: refused and audited")
    args = parser.parse_args()
    seeding = argparse.Namespace(schools=3, pupils=200, connections=1, api_processes=1)
    with login_bench(seeding, "koppel-login-parts-") as run:
        run.seed()
        os.environ["KOPPEL_DATABASE_URL"] = run.database_url
        os.environ["KOPPEL_API_TOKENS"] = json.dumps([run.token])
        measure(run, args.logins, args.denied)


def measure(run: LoginBench, logins: int, denied: bool) -> None:
    from api.app import create_app
    from api.logins import answer_login  # the route's work, without its thread hand-over
    from api.schemas import LoginRequest
    from core.logging import configure

    # As 'koppel api' logs (JSON lines), into nothing: the lines are made but not kept.
    configure("json", "INFO", open(os.devnull, "w"), cache=True, pid=True)  # noqa: SIM115
    services = create_app().state.services
    caller = services.tokens[0]
    requests = [
        LoginRequest(**run.body(login, HOME if denied else login["inside"])) for login in run.logins
    ]
    spent: collections.Counter[str] = collections.Counter()
    timed(spent)
    for n in range(200):  # warm: statements compiled and prepared, connections open
        answer_login(requests[n % len(requests)], services, caller)
    spent.clear()
    started = time.thread_time()
    for n in range(logins):
        answer_login(requests[n % len(requests)], services, caller)
    total = time.thread_time() - started
    print(
        f"{'denied' if denied else 'allowed'} logins, {logins}, load average "
        f"{os.getloadavg()[0]:.1f}: thread CPU per login"
    )
    print(f"{'answer_login() in all':46s} {1000 * total / logins:6.3f} ms")
    for _module, _attribute, label in PARTS:
        print(f"{label:46s} {1000 * spent[label] / logins:6.3f} ms")


if __name__ == "__main__":
    sys.exit(main())
