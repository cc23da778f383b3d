"""Work that waits on an identity source runs on threads of its own, not on the logins' threads.

The API's thread pool is kept small (KOPPEL_API_THREADS): more threads only take turns at
Python's lock. A connection check waits on Basispoort for up to its timeouts; on the shared
pool a few of them at once would hold every thread and stall the logins behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request

T = TypeVar("T")

# Connection checks at once, per process; more wait their turn (they are an administrator's
# button, not traffic).
UPSTREAM_THREADS = 4


async def on_upstream_threads(request: Request, work: Callable[[], T]) -> T:
    """Run ``work`` (sync, may wait on a source) on the upstream threads."""
    limiter = getattr(request.app.state, "upstream_limiter", None)
    if limiter is None:  # made on first use, on the event loop: no two requests race here
        limiter = request.app.state.upstream_limiter = anyio.CapacityLimiter(UPSTREAM_THREADS)
    return await anyio.to_thread.run_sync(work, limiter=limiter)
