"""The ``nas`` command line (typer): ``nas serve``, ``nas spaces``, ``nas proxies``, ``nas profile``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

import searchspaces
from nas import __version__
from nas.settings import Settings, SettingsError, get_settings

app = typer.Typer(
    name="nas",
    help="Hardware-aware neural architecture search: spaces, proxies, device latency, searches.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings() -> Settings:
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


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to bind (default NAS_HOST).")] = None,
    port: Annotated[
        Optional[int], typer.Option(min=1, max=65535, help="Port (default NAS_PORT, 8000).")
    ] = None,
) -> None:
    """Start the REST service and dashboard (uvicorn)."""
    import uvicorn

    settings = _settings()
    # The app is named by its import string so that `nas` itself never imports `api`.
    uvicorn.run(
        "api.main:app",
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
    )


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


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def profile(
    space: Annotated[str, typer.Option(help="Search space to profile (see `nas spaces`).")],
    device_name: Annotated[str, typer.Option(help="Name of the device, e.g. pixel7-cpu.")],
    out: Annotated[Path, typer.Option(help="Where to write the profile (JSON).")],
    runtime: Annotated[str, typer.Option(help="torch (eager) or onnxruntime (CPU).")] = "torch",
    threads: Annotated[int, typer.Option(min=1, help="Intra-op threads, fixed for the run.")] = 1,
    resolution: Annotated[
        Optional[list[int]], typer.Option(help="Input resolution(s) to cover; repeat the flag. Default: all.")
    ] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timed calls per block and per network.")] = 60,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed calls before each timing.")] = 5,
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved passes the repeats are split over.")] = 3,
    statistic: Annotated[str, typer.Option(help="min, p50 or mean: what predictions use.")] = "min",
    calibration: Annotated[int, typer.Option(min=0, help="Random networks to fit the calibration on.")] = 30,
    validation: Annotated[int, typer.Option(min=0, help="Other random networks to validate on.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the calibration and validation networks.")] = 0,
    hardware: Annotated[Optional[str], typer.Option(help="Hardware description (default: from the OS).")] = None,
) -> None:
    """Measure a latency profile of a search space on this machine and write it as JSON."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nas.latency import ProfileError
    from nas.latency.measure import RUNTIMES
    from nas.latency.profiler import profile_space
    from nas.latency.schema import DEVICE_NAME_PATTERN, STATISTICS

    if space not in searchspaces.names():
        _fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")
    if runtime not in RUNTIMES:
        _fail(f"--runtime: unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    if statistic not in STATISTICS:
        _fail(f"--statistic: must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    if not re.match(DEVICE_NAME_PATTERN, device_name):
        _fail(f"--device-name: {device_name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if out.parent and not out.parent.exists():
        _fail(f"--out: folder {str(out.parent)!r} does not exist")
    started = time.perf_counter()
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        try:
            result = profile_space(
                space, device_name, runtime=runtime, threads=threads, resolutions=resolution,
                repeats=repeats, warmup=warmup, rounds=rounds, statistic=statistic,
                calibration=calibration, validation=validation, seed=seed, hardware=hardware,
                progress=progress,
            )
        except (ValueError, ProfileError) as error:
            _fail(str(error))
    out.write_text(result.to_json())
    check = result.validation
    typer.echo(
        f"wrote {out}: {len(result.entries)} block keys, calibration a={result.calibration.a:.3f} "
        f"b={result.calibration.b:.3f} ms on {result.calibration.fit_on} networks, "
        f"{time.perf_counter() - started:.0f} s"
    )
    if check.n:
        typer.echo(
            f"validation on {check.n} other networks: {100 * check.within_10pct:.0f}% within +-10%, "
            f"MAPE {100 * check.mape:.1f}%, Spearman {check.spearman if check.spearman is None else round(check.spearman, 3)}"
        )


if __name__ == "__main__":
    app()
