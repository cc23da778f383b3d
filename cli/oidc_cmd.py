"""'koppel oidc': the LVSs that sign people in through koppel, and the keys that sign for them."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from cli.runtime import emit_json, local_time, session
from core.models import utcnow
from core.oidc.clients import add_client, list_clients, remove_client
from core.oidc.keys import encrypt_keys, is_encrypted, list_keys, prune, rotate
from core.settings import get_settings


@click.group("oidc")
def oidc() -> None:
    """koppel as the LVS's OpenID Connect provider (docs/sso.md)."""


@oidc.group("clients")
def clients() -> None:
    """The LVSs registered as OpenID Connect clients."""


@clients.command("add")
@click.argument("name")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    required=True,
    help="Where the LVS receives its code, exactly as it will send it; repeat for more.",
)
@click.option(
    "--initiate-login-uri",
    help="The LVS's address that starts a login (for sign-ins Basispoort's deep link starts).",
)
def add(name: str, redirect_uris: tuple[str, ...], initiate_login_uri: str | None) -> None:
    """Register an LVS; prints its client id and secret (the secret only this once)."""
    with session() as s:
        new = add_client(s, name, list(redirect_uris), initiate_login_uri)
        s.commit()
        click.echo(f"client {name} registered")
        click.echo(f"issuer:        {get_settings().public_url}")
        click.echo(f"client_id:     {new.client.client_id}")
        click.echo(f"client_secret: {new.secret}")
        click.echo(
            "Store the secret in the LVS's configuration now: koppel keeps only a hash of it "
            "and cannot show it again (to replace it, remove the client and add it again).",
            err=True,
        )


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def list_cmd(as_json: bool) -> None:
    """Every registered client: name, client id, redirect URIs (no secrets)."""
    with session() as s:
        rows = [
            {
                "name": c.name,
                "client_id": c.client_id,
                "redirect_uris": c.redirect_uris,
                "initiate_login_uri": c.initiate_login_uri,
                "created_at": c.created_at.isoformat(),
            }
            for c in list_clients(s)
        ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no clients; add one with 'koppel oidc clients add NAME --redirect-uri URL'")
    for row in rows:
        click.echo(f"{row['name']}  {row['client_id']}  added {local_time(row['created_at'])}")
        for uri in row["redirect_uris"]:
            click.echo(f"  redirect uri:       {uri}")
        if row["initiate_login_uri"]:
            click.echo(f"  initiate login uri: {row['initiate_login_uri']}")


@clients.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove a client: its codes and tokens stop working at once."""
    with session() as s:
        client = remove_client(s, name)
        s.commit()
        click.echo(f"client {name} ({client.client_id}) removed")


@oidc.group("keys")
def keys() -> None:
    """The keys that sign id_tokens."""


@keys.command("rotate")
def rotate_cmd() -> None:
    """Add a key that signs from now on; older ones stay published until their tokens expire."""
    with session() as s:
        new = rotate(s, get_settings(), utcnow())
        s.commit()
        click.echo(f"key {new.kid} signs from now on")
        _show_keys(s)


@keys.command("list")
def list_keys_cmd() -> None:
    """The signing keys: which signs, which only verify tokens still valid."""
    with session() as s:
        prune(s, get_settings(), utcnow())
        s.commit()
        _show_keys(s)


@keys.command("encrypt")
def encrypt_cmd() -> None:
    """Encrypt the stored signing keys with KOPPEL_OIDC_KEY_ENCRYPTION_KEY (its first key)."""
    with session() as s:
        changed = encrypt_keys(s, get_settings())
        s.commit()
        click.echo(f"{changed} signing key(s) encrypted now; every stored key is encrypted")
        _show_keys(s)


def _show_keys(s: Session) -> None:
    rows = list_keys(s)
    if not rows:
        click.echo("no signing key yet: the first is made when the first id_token is signed")
    for row in rows:
        state = "signs" if row.retired_at is None else f"retired {local_time(row.retired_at)}"
        stored = "encrypted" if is_encrypted(row) else "NOT encrypted"
        click.echo(f"{row.kid}  {row.alg}  made {local_time(row.created_at)}  {state}  {stored}")
    if any(not is_encrypted(row) for row in rows):
        click.echo(
            "keys marked NOT encrypted are readable by whoever reads the database: set "
            "KOPPEL_OIDC_KEY_ENCRYPTION_KEY and run 'koppel oidc keys encrypt' (docs/sso.md)"
        )
