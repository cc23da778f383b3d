"""'koppel basispoort-sim': serve the Basispoort simulator for demos and out-of-process tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from cli.runtime import listening


@click.command("basispoort-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535))
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same world.")
@click.option("--schools", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--max-pupils",
    default=400,
    show_default=True,
    type=click.IntRange(20, 5_000),
    help="The largest school's pupils (national scale: 1200).",
)
@click.option(
    "--tls-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Make (or reuse) a test CA, server and client certificate here and serve HTTPS that "
    "requires the client certificate. Without it: plain HTTP.",
)
@click.option(
    "--ipadressen/--no-ipadressen",
    default=False,
    show_default=True,
    help="Serve the assumed rest/v2/instellingen/{id}/ipadressen endpoint.",
)
@click.option(
    "--sp-metadata",
    multiple=True,
    help="Register a service provider with the identity provider, as a real IdP does: its SAML "
    "metadata, a file or an http(s) URL (read at each sign-in). Its AuthnRequests are then "
    "checked: signed when it says AuthnRequestsSigned, to a registered consumer. Repeatable. "
    "Without any: requests are not checked.",
)
@click.option(
    "--sp-certificate",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A service provider's signing certificate (PEM) alone: every AuthnRequest must then "
    "carry a valid signature by it. Repeatable.",
)
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="Print the world's schools (BRIN6, kinds, name) and its calendar day, then exit.",
)
def basispoort_sim(
    host: str,
    port: int,
    seed: int,
    schools: int,
    max_pupils: int,
    tls_dir: Path | None,
    ipadressen: bool,
    sp_metadata: tuple[str, ...],
    sp_certificate: tuple[Path, ...],
    list_only: bool,
) -> None:
    """Serve a simulated Basispoort (Instellingen v2) until Ctrl-C or SIGTERM.

    Prints "basispoort-sim listening on URL" first (with --port 0 the port is chosen). Control
    endpoints under /_sim/ advance the night, change consent and inject faults; see
    plugins/basispoort/simulator/control.py. The identity provider's metadata is at /idp/metadata,
    signed by the certificate at /idp/signer.pem.
    """
    from plugins.basispoort.simulator import World, run

    if list_only:
        world = World(seed=seed, schools=schools, sizes=(20, max_pupils))
        click.echo(
            f"the simulator's today: {world.today} (its consent lists' day, for "
            "'koppel consent sweep --day'; each night advanced moves it on)"
        )
        for school_id in world.school_ids:
            header = world.school(school_id)
            kinds = ",".join(world.kinds(school_id))
            click.echo(f"{header.brin6}  {school_id:>7}  {kinds:<24} {header.naam}")
        return
    with listening("the simulator", host, port), _registration_errors():
        run(
            host,
            port,
            seed,
            schools,
            tls_dir,
            ipadressen,
            sizes=(20, max_pupils),
            sp_metadata=sp_metadata,
            sp_certificates=sp_certificate,
        )


@contextmanager
def _registration_errors() -> Iterator[None]:
    """A service provider that cannot be registered: one line saying which, no traceback."""
    try:
        yield
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sp-metadata / --sp-certificate") from None
