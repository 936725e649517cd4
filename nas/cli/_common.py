"""What every ``nas`` command shares: the typer app and its ``--version`` callback, the settings and the
service's database opened or a clean exit, the ``Error: ...`` exit (code 2), checks of common flags, the
progress bar of long work and the one-line summaries of a profile's calibration and validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer

import searchspaces
from nas import __version__
from nas.errors import InvalidField
from nas.settings import Settings, SettingsError, get_settings

app = typer.Typer(
    name="nas",
    help="Hardware-aware neural architecture search: spaces, proxies, device latency, searches.",
    no_args_is_help=True,
    add_completion=False,
)


def load_settings() -> Settings:
    """The service's settings, or exit 2 with the reason they are wrong."""
    try:
        return get_settings()
    except SettingsError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nas {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Hardware-aware NAS service and tools."""


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` on stderr and exit 2, as a usage error does."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def fail_invalid(error: InvalidField, flags: dict[str, str] | None = None) -> NoReturn:
    """The one CLI mapper of ``InvalidField``: each problem named as the flag the user typed (a field
    ``latency_max_ms`` is ``--latency-max-ms``; ``flags`` maps fields whose flag is named otherwise),
    then exit 2."""
    def flag(field: str) -> str:
        head, _, rest = field.partition(".")
        named = (flags or {}).get(field) or (flags or {}).get(head) or "--" + head.replace("_", "-")
        return named + (f" ({rest})" if rest and field not in (flags or {}) else "")

    lines = [f"{flag(p.field)}: {p.message}" if p.field else p.message for p in error.problems]
    if len(lines) == 1:
        fail(lines[0])
    fail(f"invalid {error.what} ({len(lines)} problems):\n" + "\n".join(f"  - {line}" for line in lines))


def check_out(out: Path | None) -> None:
    """Refuse an --out whose folder does not exist before any work is done."""
    if out is not None and not out.parent.exists():
        fail(f"--out: folder {str(out.parent)!r} does not exist")


def check_space(space: str) -> None:
    """Refuse a --space that names no search space."""
    if space not in searchspaces.names():
        fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")


def open_service_store():
    """The service's database (``DATABASE_URL``, else SQLite under ``./var``), with the shipped
    devices registered."""
    from nas.storage import StorageError, open_store

    load_settings()
    try:
        store = open_store()
        store.devices.ensure_shipped()
    except StorageError as error:
        fail(str(error))
    return store


def split_names(text: str, flag: str) -> tuple[str, ...]:
    """The comma-separated names of a flag's value; at least one."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        fail(f"{flag}: name at least one value")
    return names


def stage_bar():
    """The progress bar of the commands that time networks: one line per stage, done of total, elapsed."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, transient=False)


def stage_progress(bar) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback that shows each new stage as its own line of ``bar``."""
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done)

    return progress


def calibration_line(profile) -> str:
    calibration = profile.calibration
    kinds = f", {len(calibration.kind_scales)} kind scales" if calibration.kind_scales else ""
    return f"calibration a={calibration.a:.3f} b={calibration.b:.3f} ms{kinds} on {calibration.fit_on} networks"


def validation_line(check) -> str:
    rho = "n/a" if check.spearman is None else f"{check.spearman:.3f}"
    return (f"{check.n} other networks: {100 * check.within_10pct:.0f}% within +-10%, "
            f"MAPE {100 * check.mape:.1f}%, Spearman {rho}")
