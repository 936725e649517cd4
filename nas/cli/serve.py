"""``nas serve`` (the REST service and dashboard), ``nas spaces`` and ``nas proxies`` (what the service offers)."""

from __future__ import annotations

import json
import socket
from typing import Annotated, Optional

import typer

import searchspaces
from nas.cli._common import app, fail, load_settings


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to bind (default NAS_HOST).")] = None,
    port: Annotated[
        Optional[int], typer.Option(min=1, max=65535, help="Port (default NAS_PORT, 8000).")
    ] = None,
) -> None:
    """Start the REST service and dashboard (uvicorn). Bound beyond loopback it needs API keys
    (NAS_AUTH=required) unless NAS_AUTH=off says otherwise."""
    import os

    import uvicorn

    from nas.settings import get_settings

    # The app reads the address it is bound to from NAS_HOST: it decides whether keys are needed.
    for variable, value in (("NAS_HOST", host), ("NAS_PORT", port)):
        if value is not None:
            os.environ[variable] = str(value)
    get_settings.cache_clear()
    settings = load_settings()
    mode = settings.auth_mode()
    why = "NAS_AUTH" if settings.auth else ("loopback" if settings.on_loopback() else "bound beyond loopback")
    typer.echo(f"auth: {mode} ({why}){'; send Authorization: Bearer <key> (nas keys create)' * (mode == 'required')}",
               err=True)
    # The port is taken before the app starts: Ray, started by the app, picks ports of its own and
    # could otherwise take this one first; a port already in use fails here, at once.
    listener = _listen_socket(settings.host, settings.port)
    typer.echo(f"listening on {settings.host}:{settings.port}; the service answers once it has started", err=True)
    # The app is named by its import string so that `nas` itself never imports `api`.
    server = uvicorn.Server(uvicorn.Config("api.main:app", log_level=settings.log_level))
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise typer.Exit(3)


def _listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (uvicorn listens on it), or exit 2 naming the flag."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        fail(f"--host/--port: cannot bind {host}:{port} ({error.strerror or error}); "
             "choose another with --port or NAS_PORT")
    return listener


@app.command()
def spaces(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the search spaces with their sizes."""
    rows = [searchspaces.get(name).describe() for name in searchspaces.names()]
    if as_json:
        for row in rows:
            row.pop("choices")
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'space':<14}{'size':>12}  {'resolutions':<24}{'block keys':>11}  reference")
    for row in rows:
        resolutions = ",".join(str(r) for r in row["resolutions"])
        if len(resolutions) > 22:
            resolutions = f"{row['resolutions'][0]}..{row['resolutions'][-1]}"
        typer.echo(
            f"{row['name']:<14}{row['size']:>12.3g}  {resolutions:<24}{row['num_block_keys']:>11}"
            f"  {row['reference']}"
        )


@app.command("proxies")
def list_proxies(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the zero-cost proxies and what each needs."""
    import nas.proxies

    rows = [nas.proxies.get(name).describe() for name in nas.proxies.names()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'proxy':<11}{'labels':<8}{'data':<6}description")
    for row in rows:
        labels = "yes" if row["needs_labels"] else "no"
        data = "yes" if row["needs_data"] else "no"
        typer.echo(f"{row['name']:<11}{labels:<8}{data:<6}{row['description']}")
