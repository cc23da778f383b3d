"""A faithful simulator of the Basispoort partner REST API (Instellingen v2) for tests and demos."""

from __future__ import annotations

import signal
import threading
from datetime import date
from pathlib import Path

import structlog

from plugins.basispoort.simulator.pki import TLSFiles, client_ssl_context, make_test_pki
from plugins.basispoort.simulator.server import SimulatorServer
from plugins.basispoort.simulator.world import DEFAULT_START, World

__all__ = [
    "SimulatorServer",
    "TLSFiles",
    "World",
    "client_ssl_context",
    "make_test_pki",
    "run",
]

log = structlog.get_logger()


def run(
    host: str,
    port: int,
    seed: int,
    schools: int,
    tls_dir: str | Path | None,
    ipadressen: bool,
    *,
    sizes: tuple[int, int] = (20, 400),
    start: date = DEFAULT_START,
    sp_metadata: tuple[str, ...] = (),
    sp_certificates: tuple[Path, ...] = (),
) -> None:
    """Serve a World(seed, schools, sizes) until interrupted.

    With ``tls_dir`` the test PKI is made (or reused) there and the server speaks HTTPS with
    client certificates. ``sp_metadata`` (files or URLs) and ``sp_certificates`` register service
    providers with the identity provider, which then checks their AuthnRequests. The first line
    on stdout is "basispoort-sim listening on <url>", so a parent process started with port 0
    can read the port.
    """
    world = World(seed=seed, schools=schools, sizes=sizes, start=start)
    tls = make_test_pki(tls_dir) if tls_dir is not None else None
    server = SimulatorServer(world, host=host, port=port, tls=tls, ipadressen=ipadressen)
    for source in sp_metadata:
        server.idp.service_providers.register_metadata(source)
    for certificate in sp_certificates:
        server.idp.service_providers.register_certificate(Path(certificate).read_bytes())
    server.start()
    print(f"basispoort-sim listening on {server.url}", flush=True)
    log.info(
        "simulator_started",
        url=server.url,
        schools=schools,
        seed=seed,
        tls_dir=None if tls is None else str(Path(tls.ca).parent),
        # The IdP checks AuthnRequests only with service providers registered.
        checks_requests=server.idp.service_providers.registered,
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly when a test terminates us
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        log.info("simulator_stopped", url=server.url)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
