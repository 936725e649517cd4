"""``nas keys``: the API keys a service with NAS_AUTH=required asks for (``Authorization: Bearer``).

Run where the service's database is (DATABASE_URL, else SQLite under ./var): whoever can run this can
read that database, so the CLI needs no key itself."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nas.cli._common import app, fail, fail_invalid, open_service_store
from nas.errors import InvalidField

keys_app = typer.Typer(help="API keys: who may use the service, as viewer, member or admin.",
                       invoke_without_command=True)
app.add_typer(keys_app, name="keys")


def _when(value) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


JSON_OPTION = typer.Option("--json", help="Print JSON instead of a table.")


@keys_app.callback()
def keys(ctx: typer.Context, as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """List the keys (as `nas keys list`), or make and revoke them."""
    if ctx.invoked_subcommand is None:
        list_keys(as_json)


@keys_app.command("list")
def list_keys(as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """List the keys: name, role and when each was made, last used and revoked (never the keys
    themselves: only a hash of each is kept)."""
    records = open_service_store().keys.list()
    rows = [{"name": k.name, "role": k.role, "created_by": k.created_by, "created_at": _when(k.created_at),
             "last_used_at": _when(k.last_used_at), "revoked_at": _when(k.revoked_at)} for k in records]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no keys: `nas keys create NAME --role admin`")
        return
    typer.echo(f"{'key':<24}{'role':<8}{'created':<27}{'last used':<27}revoked")
    for row in rows:
        typer.echo(f"{row['name']:<24}{row['role']:<8}{row['created_at']:<27}{row['last_used_at']:<27}"
                   f"{row['revoked_at']}")


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="Who holds it (1-64 letters, digits, '.', '_', '-'); never reused.")],
    role: Annotated[str, typer.Option(help="viewer (reads), member (also submits and registers), admin (all).")]
    = "member",
) -> None:
    """Make a key. It is printed once, on the last line: keep it, since only its hash is stored."""
    from nas.storage import AlreadyExists

    try:
        record, key = open_service_store().keys.create(name, role)
    except InvalidField as error:
        fail_invalid(error, {"name": "NAME"})
    except AlreadyExists as error:
        fail(f"NAME: {error.reason}")
    typer.echo(f"created key {record.name!r} ({record.role}); it is shown this once:", err=True)
    typer.echo(key)


@keys_app.command("revoke")
def revoke_key(name: Annotated[str, typer.Argument(help="The key's name (nas keys).")]) -> None:
    """Revoke a key: the service refuses it from now on (401). Its name stays taken."""
    from nas.storage import NotFound

    try:
        record = open_service_store().keys.revoke(name)
    except NotFound as error:
        fail(f"NAME: {error}")
    typer.echo(f"revoked key {record.name!r} ({record.role}) at {_when(record.revoked_at)}")
