"""'koppel api': serve the HTTP API for the LVS (uvicorn)."""

from __future__ import annotations

import socket

import click

from cli.runtime import (
    fail,
    listening,
    metrics_port_option,
    plugins,
    serve_metrics,
    session_factory,
)
from core.errors import KoppelError
from core.settings import get_settings


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@metrics_port_option("the API")
def api(host: str, port: int, metrics_port: int | None) -> None:
    """Serve the login and school API (needs KOPPEL_API_TOKENS).

    /health and /ready answer without a token; metrics are served on their own port
    (--metrics-port), not beside the API the LVS reaches.
    """
    serve_metrics(metrics_port)
    import uvicorn

    from api.app import create_app, engine_options

    # The port first: a port in use is then the one line said, before the app has its say.
    with listening("the API", host, port):
        sock = listening_socket(host, port)
    try:
        settings = get_settings()
        app = create_app(settings, session_factory(**engine_options(settings)), plugins())
    except KoppelError as exc:
        sock.close()
        fail(exc)
    # log_config=None: uvicorn's lines go through koppel's structlog set-up like everything else.
    # proxy_headers=False: the caller is the LVS; the pupil's address arrives in the request body.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        proxy_headers=False,
        access_log=settings.api_access_log,
    )
    uvicorn.Server(config).run(sockets=[sock])


def listening_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound here, not by uvicorn: a port in use is then one line (the
    caller's), not uvicorn's log and exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on accepted
    # sockets whose protocol says TCP. With it on, an answer's body waited for the client's
    # delayed ACK of its headers: 40 ms added to every request (docs/benchmarks.md, 'Logins').
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
