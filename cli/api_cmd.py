"""'koppel api': serve the HTTP API for the LVS (uvicorn), in one process or several."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING

import click
import structlog

from cli.runtime import (
    checked_engine,
    fail,
    listening,
    metrics_port_option,
    plugins,
    serve_metrics,
)
from core.errors import KoppelError
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# What uvicorn's workers call to build their app (spawned processes: an import string).
PROCESS_APP = "cli.api_cmd:process_app"
WORKER_HEALTHCHECK_SECONDS = 30
PARENT_CHECK_SECONDS = 2  # as the sync workers' (workers/runner.py)


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    help="Processes serving the port (uvicorn's workers); default: KOPPEL_API_PROCESSES.",
)
@metrics_port_option("the API (all its processes together)")
def api(host: str, port: int, processes: int | None, metrics_port: int | None) -> None:
    """Serve the login and school API (needs KOPPEL_API_TOKENS).

    /health and /ready answer without a token; metrics are served on their own port
    (--metrics-port), not beside the API the LVS reaches. With several --processes, SIGTERM
    stops them all, and one that dies is started again.
    """
    serve_metrics(metrics_port)  # before the app imports prometheus_client: see workers/metrics

    # The port first: a port in use is then the one line said, before the app has its say.
    with listening("the API", host, port):
        sock = listening_socket(host, port)
    try:
        settings = get_settings()
        # Built here in every case: a missing token or database is one line, before any
        # process is started.
        app = built_app(settings)
    except KoppelError as exc:
        sock.close()
        fail(exc)
    processes = processes or settings.api_processes
    if processes > 1:
        # Each process builds its own app and pool; this one only watches them.
        services = app.state.services
        for pool in (services.session_factory, services.autocommit_factory):
            if pool is not None:
                pool.kw["bind"].dispose()
        if settings.web_secret is None:
            # One key for all of them (each would draw its own): a sign-in made by one process
            # is then good at the next. A restart still ends sign-ins (web_secret_unset says so).
            os.environ["KOPPEL_WEB_SECRET"] = secrets.token_urlsafe(32)
    serve(
        app if processes == 1 else PROCESS_APP,
        sock,
        processes,
        access_log=settings.api_access_log,
    )


def serve(
    app: FastAPI | str, sock: socket.socket, processes: int, *, access_log: bool = False
) -> None:
    """Serve ``app`` on the bound ``sock``: here, or in ``processes`` uvicorn workers that
    share the socket, each building its app with the factory ``app`` names. uvicorn's
    supervisor passes SIGTERM and SIGINT on to them and starts one again that dies."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from cli.api_supervisor import Supervisor

    # log_config=None: uvicorn's lines go through koppel's structlog set-up like everything else.
    # proxy_headers=False: the caller is the LVS; the pupil's address arrives in the request body.
    config = uvicorn.Config(
        app,
        log_config=None,
        proxy_headers=False,
        access_log=access_log,
        workers=processes,
        factory=isinstance(app, str),
        # How long a process may take to answer the supervisor's ping before it is killed and
        # started again; uvicorn's 5 s killed processes still importing on a busy 2-core host.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    if processes == 1:
        uvicorn.Server(config).run(sockets=[sock])
        return
    supervisor = Supervisor(config, sockets=[sock])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        # uvicorn stops them all when one cannot start (its line says why), and returns as
        # from a SIGTERM: the exit code tells the container's restart policy otherwise.
        sys.exit(STARTUP_FAILURE)


def process_app() -> FastAPI:
    """The app of one of several API processes (a fresh interpreter): it logs as koppel's
    commands do. When it cannot start, uvicorn's supervisor is told to stop, not retry."""
    from uvicorn.config import STARTUP_FAILURE

    from core.logging import configure

    settings = get_settings()
    configure(settings.log_format, settings.log_level, cache=True, pid=True)
    stop_with_parent(os.getppid())
    try:
        return built_app(settings)
    except KoppelError as exc:
        fail(exc, STARTUP_FAILURE)
        raise  # not reached: fail() exits


def stop_with_parent(parent: int) -> None:
    """End this process as if told to (SIGTERM) once ``parent`` is gone: a parent killed
    outright (SIGKILL) cannot pass the signal on, and an orphan would go on serving the port."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        structlog.get_logger().warning("api_parent_gone", parent=parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def built_app(settings: Settings) -> FastAPI:
    from api.app import api_sessions, create_app

    sessions, autocommit_sessions = api_sessions(settings, checked_engine)
    return create_app(settings, sessions, plugins(), autocommit_factory=autocommit_sessions)


def listening_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound here, not by uvicorn: a port in use is then one line (the
    caller's), not uvicorn's log and exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on accepted
    # sockets whose protocol says TCP. With it on, an answer's body waited for the client's
    # delayed ACK of its headers: 40 ms added to every request (docs/benchmarks.md, 'Logins').
    # The processes of --processes get this socket as it is (pickled with its protocol).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
