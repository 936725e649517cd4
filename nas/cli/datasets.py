"""``nas datasets``: the calibration datasets data-dependent proxies score networks on, listed and
uploaded (checked as ``POST /api/v1/datasets`` checks them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from nas.cli._common import app, fail, fail_invalid, open_service_store
from nas.errors import InvalidField

datasets_app = typer.Typer(help="Calibration datasets: the batch data-dependent proxies score networks on.",
                           invoke_without_command=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.callback()
def datasets(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the uploaded calibration datasets (built in: cifar10_sample, synthetic)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [{"name": d.name, "num_images": d.num_images, "height": d.height, "width": d.width,
             "num_classes": d.num_classes, "dtype": d.dtype, "sha256": d.sha256, "description": d.description,
             "created_at": d.created_at.isoformat()} for d in open_service_store().datasets.list()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo("built in: cifar10_sample (550 real CIFAR-10 images), synthetic (Gaussian)")
    if not rows:
        typer.echo("no uploaded datasets: `nas datasets register NAME --file F.npz`")
        return
    typer.echo(f"{'dataset':<24}{'images':>8}  {'size':<10}{'classes':>8}  {'dtype':<8}description")
    for row in rows:
        size = f"{row['height']}x{row['width']}"
        typer.echo(f"{row['name']:<24}{row['num_images']:>8}  {size:<10}{row['num_classes']:>8}  {row['dtype']:<8}"
                   f"{row['description']}")


@datasets_app.command("register")
def register_dataset(
    name: Annotated[str, typer.Argument(help="What searches call it (--data NAME).")],
    file: Annotated[Path, typer.Option("--file", help=".npz holding 'images' and 'labels'.")],
    num_classes: Annotated[Optional[int], typer.Option(help="Class count (default: the largest label + 1).")] = None,
    description: Annotated[str, typer.Option(help="What it is.")] = "",
) -> None:
    """Store a calibration dataset, checked as POST /api/v1/datasets checks it."""
    from nas.datasets.calibration import DatasetError, read_npz
    from nas.evaluate import BUILT_IN_DATA
    from nas.storage import AlreadyExists

    if name in BUILT_IN_DATA:
        fail(f"NAME: {name!r} is a built-in dataset; choose another name")
    try:
        content = file.read_bytes()
    except OSError as error:
        fail(f"--file: cannot read {str(file)!r}: {error.strerror or error}")
    try:
        dataset = read_npz(content, num_classes)
    except DatasetError as error:
        fail(f"--file: {error}")
    try:
        record = open_service_store().datasets.add(name, content, dataset.describe(), description)
    except AlreadyExists as error:
        fail(f"NAME: {error.reason}")
    except InvalidField as error:
        fail_invalid(error, {"name": "NAME"})
    typer.echo(f"stored dataset {record.name}: {record.num_images} images of {record.height}x{record.width}, "
               f"{record.num_classes} classes")
