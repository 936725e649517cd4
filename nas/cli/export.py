"""``nas export`` (a network as ONNX or a JSON architecture) and ``nas kit`` (a measurement kit: networks as
ONNX to time on a device that cannot run our profiler)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

import searchspaces
from nas.cli._common import (
    app,
    check_out,
    check_space,
    fail,
    open_service_store,
    stage_bar,
)


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="File to write (.onnx or .json).")],
    candidate: Annotated[Optional[int], typer.Option(help="Id of a stored candidate (see a search's front).")] = None,
    space: Annotated[Optional[str], typer.Option(help="Search space of --arch (see `nas spaces`).")] = None,
    arch: Annotated[Optional[str], typer.Option(help="Canonical arch string in --space.")] = None,
    export_format: Annotated[str, typer.Option("--format", help="onnx (the model) or json (the layer list).")] = "onnx",
    num_classes: Annotated[
        Optional[int], typer.Option(min=1, help="Classes (default: the search's device profile's, else the space's).")
    ] = None,
    seed: Annotated[
        Optional[int], typer.Option(min=0, help="Seed of the initial weights (default: the search's, else 0).")
    ] = None,
) -> None:
    """Export a network as ONNX or as a JSON architecture: a stored candidate, or a space and an arch."""
    from nas.export import FORMATS, Exportable, resolve, stored_candidate
    from nas.storage import NotFound

    if export_format not in FORMATS:
        fail(f"--format: must be one of {', '.join(FORMATS)}, got {export_format!r}")
    if (candidate is None) == (space is None and arch is None):
        fail("--candidate or --space with --arch: give one or the other")
    if candidate is None and (space is None or arch is None):
        missing, given = ("--space", "--arch") if space is None else ("--arch", "--space")
        fail(f"{missing}: required with {given}")
    check_out(out)
    if candidate is not None:
        store = open_service_store()
        try:
            target = stored_candidate(store, candidate, num_classes, seed)
        except NotFound as error:
            fail(f"--candidate: {error}")
        finally:
            store.close()
    else:
        check_space(space)
        try:
            found, decoded = resolve(space, arch)
        except ValueError as error:
            fail(f"--arch: {error}")
        target = Exportable(space=space, arch=found.encode(decoded),
                            num_classes=num_classes or found.default_num_classes, seed=seed or 0)
    content = target.export(export_format)
    out.write_bytes(content)
    source = f"candidate {candidate} " if candidate is not None else ""
    typer.echo(f"wrote {out}: {export_format} of {source}{target.space} {target.arch}, "
               f"{target.num_classes} classes, {len(content):,} bytes")


@app.command()
def kit(
    space: Annotated[str, typer.Option(help="Search space of the networks (see `nas spaces`).")],
    out: Annotated[Path, typer.Option(help="Folder to write the kit to (made if missing).")],
    n: Annotated[int, typer.Option("--n", min=5, max=200, help="Networks in the kit, 5 to 200.")] = 20,
    resolution: Annotated[
        Optional[int], typer.Option(help="Input resolution of every network (default: all of the space's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the networks drawn and of their weights.")] = 0,
    num_classes: Annotated[Optional[int], typer.Option(min=1, help="Classes (default: the space's).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a kit already in --out.")] = False,
) -> None:
    """Write a measurement kit: N networks as ONNX, chosen to fit a device's profile from their times."""
    from nas.latency.kit import make_kit

    check_space(space)
    resolutions = searchspaces.get(space).resolutions
    if resolution is not None and resolution not in resolutions:
        fail(f"--resolution: space {space!r} has no resolution {resolution}; choose from {list(resolutions)}")
    check_out(out)
    if out.exists() and not out.is_dir():
        fail(f"--out: {str(out)!r} is a file, not a folder")
    if (out / "kit.json").exists() and not overwrite:
        fail(f"--out: {str(out)!r} holds a kit already; choose another folder or pass --overwrite")
    with stage_bar() as bar:
        task = bar.add_task("exporting networks", total=n)
        made = make_kit(space, out, n=n, resolution=resolution, seed=seed, num_classes=num_classes,
                        overwrite=overwrite, progress=lambda done, total: bar.update(task, completed=done))
    typer.echo(f"wrote {out}: {len(made['networks'])} networks of {space} (ONNX), kit.json and measure.py")
    typer.echo(
        f"next, time it on the device: python {out / 'measure.py'} --threads N (needs onnxruntime and numpy), "
        f"or time the .onnx files with the device's own tool and write {out / 'measurements.csv'} "
        f"(columns arch,ms);\nthen: nas devices fit NAME --space {space} --measurements {out / 'measurements.csv'}")
