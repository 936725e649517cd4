"""``nas devices``: the device registry, shipped and registered devices with their latency profiles;
``register`` uploads profiles measured by ``nas profile``, ``fit`` fits one from whole networks timed on the
device with its own tools."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from nas.cli._common import app, check_space, fail, fail_invalid, open_service_store
from nas.errors import InvalidField

devices_app = typer.Typer(help="The device registry: shipped and registered devices, with their profiles.",
                          invoke_without_command=True)
app.add_typer(devices_app, name="devices")


@devices_app.callback()
def devices(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the devices known (shipped and registered) with their latency profiles."""
    if ctx.invoked_subcommand is not None:
        return
    store = open_service_store()
    rows = []
    for device in store.devices.list():
        profiles = store.profiles.list(device.name)
        rows.append({
            "name": device.name, "hardware": device.hardware, "shipped": device.shipped,
            "profiles": [
                {"space": p.search_space, "version": p.version, "runtime": p.runtime,
                 "resolutions": p.resolutions, "block_keys": p.num_keys, "validation": p.validation,
                 "created_at": p.created_at.isoformat()}
                for p in profiles
            ],
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'device':<24}{'space':<14}{'version':>8}  {'runtime':<18}{'keys':>6}  {'within 10%':>10}  {'MAPE':>6}")
    for row in rows:
        label = row["name"] + (" (shipped)" if row["shipped"] else "")
        if not row["profiles"]:
            typer.echo(f"{label:<24}(no profiles)")
        for p in row["profiles"]:
            check = p["validation"] or {}
            within = f"{100 * check['within_10pct']:.0f}%" if check.get("n") else "-"
            mape = f"{100 * check['mape']:.1f}%" if check.get("n") else "-"
            typer.echo(f"{label:<24}{p['space']:<14}{p['version']:>8}  {p['runtime']:<18}{p['block_keys']:>6}  "
                       f"{within:>10}  {mape:>6}")
            label = ""


@devices_app.command("register")
def register_device(
    name: Annotated[str, typer.Argument(help="Device name, e.g. pixel7-cpu.")],
    profile_files: Annotated[
        Optional[list[Path]], typer.Option("--profile", help="Profile JSON from `nas profile`; repeat the flag.")
    ] = None,
    hardware: Annotated[str, typer.Option(help="What the device is.")] = "",
) -> None:
    """Register a device (if new) and upload its profiles (each becomes the next version)."""
    from nas.latency import ProfileError, load_profile
    from nas.storage import NotFound

    profiles = []
    for path in profile_files or []:
        try:
            profiles.append((path, load_profile(path)))
        except ProfileError as error:
            fail(f"--profile: {error}")
    store = open_service_store()
    try:
        store.devices.get(name)
    except NotFound:
        try:
            store.devices.add(name, hardware=hardware)
        except InvalidField as error:
            fail_invalid(error, {"name": "NAME"})
        typer.echo(f"registered device {name}")
    for path, loaded in profiles:
        record = store.profiles.add(name, loaded)
        typer.echo(f"stored {path} as {name} / {record.search_space} version {record.version} "
                   f"({record.num_keys} block keys)")


# What a fitted profile records of the device, by flag: the profile's field and its longest value.
FIT_DEVICE_FLAGS = {"hardware": 200, "runtime": 64, "runtime_version": 64}
PRECISIONS = ("fp32", "fp16", "bf16", "int8")


@devices_app.command("fit")
def fit_device(
    name: Annotated[str, typer.Argument(help="Device name, e.g. pixel7-npu.")],
    space: Annotated[str, typer.Option(help="Search space of the measured networks (see `nas spaces`).")],
    measurements: Annotated[
        Path, typer.Option(help="CSV with columns arch,ms: whole networks timed end to end on the device.")],
    hardware: Annotated[Optional[str], typer.Option(help="What the device is.")] = None,
    runtime: Annotated[Optional[str], typer.Option(help="What ran the networks, e.g. tflite, tensorrt.")] = None,
    runtime_version: Annotated[Optional[str], typer.Option(help="Its version.")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Threads the runtime used.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Images per inference, as timed.")] = None,
    precision: Annotated[Optional[str], typer.Option(help="fp32, fp16, bf16 or int8, as timed.")] = None,
    tool: Annotated[Optional[str], typer.Option(help="What timed the networks (recorded with the profile).")] = None,
) -> None:
    """Fit a profile of a device from whole networks timed end to end on it (a CSV of arch,ms) and store
    it as the device's next profile version for the space, registering the device if new."""
    from nas.latency import MeasurementError, ProfileError, fit_profile
    from nas.latency.measurements import read_csv
    from nas.latency.schema import DEVICE_NAME_PATTERN
    from nas.storage import ShippedDevice
    from nas.storage.here import add_fitted, fittable

    fields = {"hardware": hardware, "runtime": runtime, "runtime_version": runtime_version, "threads": threads,
              "batch_size": batch_size, "precision": precision}
    if not re.match(DEVICE_NAME_PATTERN, name):
        fail(f"NAME: {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    check_space(space)
    for field, longest in FIT_DEVICE_FLAGS.items():
        if fields[field] is not None and not 0 < len(fields[field]) <= longest:
            fail(f"--{field.replace('_', '-')}: must be 1-{longest} characters, got {len(fields[field])}")
    if precision is not None and precision not in PRECISIONS:
        fail(f"--precision: must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    try:
        data = measurements.read_bytes()
    except OSError as error:
        fail(f"--measurements: cannot read {str(measurements)!r}: {error.strerror or error}")
    store = open_service_store()
    try:
        fittable(store, name)
        rows = read_csv(data, source=str(measurements))
        fitted = fit_profile(space, rows, device={**fields, "name": name}, tool=tool)
    except ShippedDevice as error:
        fail_invalid(error, {"name": "NAME"})
    except MeasurementError as error:
        count = len(error.problems)
        fail(f"--measurements {measurements}: {count} problem{'s' * (count != 1)}:\n"
              + "\n".join(f"  - {problem}" for problem in error.problems))
    except (ProfileError, ValueError) as error:
        fail(str(error))
    record, created = add_fitted(store, name, fitted, hardware or "")
    if created:
        typer.echo(f"registered device {name}")
    check = fitted.validation
    rho = "n/a" if check.spearman is None else f"{check.spearman:.3f}"
    typer.echo(f"stored {name} / {space} version {record.version}: fitted from {fitted.fit.n} measurements "
               f"({fitted.fit.method})")
    typer.echo(f"cross-validated ({check.method}) on {check.n} networks: Spearman {rho}, "
               f"MAPE {100 * check.mape:.1f}%, {100 * check.within_10pct:.0f}% within +-10%")
