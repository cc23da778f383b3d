"""uvicorn's supervisor of several API processes, told at once when one of them has died."""

from __future__ import annotations

from uvicorn.supervisors import Multiprocess


class Supervisor(Multiprocess):
    """Multiprocess whose health check notices a dead process at once.

    uvicorn keeps both ends of each process's ping pipe open here, so a process that died
    before answering (one that cannot start, say) was only noticed when the ping timed out
    (WORKER_HEALTHCHECK_SECONDS, 30 s). With the process's end closed here once it runs, its
    death reads as the pipe's end, and the next check (every 0.5 s) acts on it.
    """

    def keep_subprocess_alive(self) -> None:
        for process in self.processes:
            # Started processes hold their own copy (handed over when started); closing twice
            # is harmless.
            process.child_conn.close()
        super().keep_subprocess_alive()
