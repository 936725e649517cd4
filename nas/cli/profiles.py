"""Device latency profiles measured on this machine: ``nas profile`` (block by block), ``recalibrate``
(refit a profile's calibration), ``merge-profiles`` (sessions at different hours into one) and
``speed-check`` (scale a profile by how fast its networks run now)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from nas.cli._common import (
    app,
    calibration_line,
    check_out,
    check_space,
    fail,
    stage_bar,
    stage_progress,
    validation_line,
)

# A speed check beyond these looks like another device rather than the same one at another hour (this
# VM: 0.93-1.21 times its tables over a day, the networks of one check within 15% of each other).
FOREIGN_FACTOR = 1.35
FOREIGN_SPREAD = 1.25


@app.command()
def profile(
    space: Annotated[str, typer.Option(help="Search space to profile (see `nas spaces`).")],
    device_name: Annotated[str, typer.Option(help="Name of the device, e.g. pixel7-cpu.")],
    out: Annotated[Path, typer.Option(help="Where to write the profile (JSON).")],
    runtime: Annotated[str, typer.Option(help="torch (eager) or onnxruntime (CPU).")] = "torch",
    threads: Annotated[int, typer.Option(min=1, help="Intra-op threads, fixed for the run.")] = 1,
    accelerator: Annotated[
        Optional[str], typer.Option(
            help="cuda: time on the GPU, eager; cuda-graph: on the GPU, each module replayed as a CUDA graph "
            "(runtime torch). Default: the CPU.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per inference, as deployed.")] = 1,
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

    from nas.latency import ProfileError
    from nas.latency.profiler import profile_space

    _check_profile_flags(space, runtime, statistic, accelerator, device_name)
    check_out(out)
    started = time.perf_counter()
    with stage_bar() as bar:
        try:
            result = profile_space(
                space, device_name, runtime=runtime, accelerator=accelerator, threads=threads, resolutions=resolution,
                batch_size=batch_size,
                repeats=repeats, warmup=warmup, rounds=rounds, statistic=statistic,
                calibration=calibration, validation=validation, seed=seed, hardware=hardware,
                progress=stage_progress(bar),
            )
        except (ValueError, ProfileError) as error:
            fail(str(error))
    out.write_text(result.to_json())
    check = result.validation
    typer.echo(
        f"wrote {out}: {len(result.entries)} block keys, {calibration_line(result)}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    if check.n:
        typer.echo(f"validation on {validation_line(check)}")


def _check_profile_flags(space: str, runtime: str, statistic: str, accelerator: str | None, device_name: str) -> None:
    """Refuse the flags of ``nas profile`` that name nothing it can measure, before any work is done."""
    from nas.latency.measure import RUNTIMES, check_accelerator
    from nas.latency.schema import DEVICE_NAME_PATTERN, STATISTICS

    check_space(space)
    if runtime not in RUNTIMES:
        fail(f"--runtime: unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    if statistic not in STATISTICS:
        fail(f"--statistic: must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    try:
        check_accelerator(accelerator, runtime)
    except ValueError as error:
        fail(f"--accelerator: {error}")
    if not re.match(DEVICE_NAME_PATTERN, device_name):
        fail(f"--device-name: {device_name!r} must be 1-64 letters, digits, '.', '_' or '-'")


@app.command()
def recalibrate(
    profile_file: Annotated[Path, typer.Argument(help="A profile written by `nas profile`.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Where to write the refitted profile (JSON).")],
) -> None:
    """Fit a profile's calibration again on the networks it recorded, measuring nothing.

    Adds per-kind scales where they predict better (profiles written before they existed)."""
    from nas.latency import ProfileError, load_profile
    from nas.latency import recalibrate as refit

    check_out(out)
    try:
        before = load_profile(profile_file)
        after = refit(before)
    except (ValueError, ProfileError) as error:
        fail(str(error))
    out.write_text(after.to_json())
    scales = after.calibration.kind_scales
    typer.echo(f"wrote {out}: {calibration_line(after)}")
    if scales:
        typer.echo("per-kind scales: " + ", ".join(f"{kind} {value:.2f}" for kind, value in sorted(scales.items())))
    for name, check in (("before", before.validation), ("after", after.validation)):
        if check.n:
            typer.echo(f"validation {name}: {validation_line(check)}")


@app.command("merge-profiles")
def merge_profiles(
    profile_files: Annotated[
        list[Path], typer.Argument(help="Two or more profiles of one space on one device, measured at different "
                                   "times with the same settings.", show_default=False)
    ],
    out: Annotated[Path, typer.Option(help="Where to write the merged profile (JSON).")],
) -> None:
    """Merge sessions of `nas profile` measured at different times into one profile of typical speed.

    Every entry and every network's time is the median over the sessions; the calibration is fitted
    again. For a device whose speed moves from hour to hour (a shared VM, a phone that throttles)."""
    from nas.latency import ProfileError, load_profile, merge_sessions, session_speeds

    check_out(out)
    try:
        sessions = [load_profile(path) for path in profile_files]
        merged = merge_sessions(sessions, [str(path) for path in profile_files])
    except (ValueError, ProfileError) as error:
        fail(str(error))
    out.write_text(merged.to_json())
    typer.echo(f"wrote {out}: {len(sessions)} sessions, {calibration_line(merged)}")
    for path, session, speed in zip(profile_files, sessions, session_speeds(sessions, merged)):
        pace = "" if speed is None else f": its networks took {speed:.3f}x the merged times"
        typer.echo(f"  {session.measurement.measured_at.isoformat()} {path}{pace}")
    if merged.validation.n:
        typer.echo(f"validation on {validation_line(merged.validation)}")


@app.command("speed-check")
def speed_check(
    out: Annotated[Path, typer.Option(help="Where to write the profile with its speed check (JSON).")],
    profile_file: Annotated[
        Optional[Path], typer.Argument(help="A profile written by `nas profile` (or give --space for the shipped one).",
                                       show_default=False)
    ] = None,
    space: Annotated[Optional[str], typer.Option(help="Check the shipped profile of this space instead.")] = None,
    networks: Annotated[Optional[int], typer.Option(help="Calibration networks to time again (default 10).",
                                                    show_default=False)] = None,
) -> None:
    """Time some of a profile's calibration networks again on this machine and scale its predictions
    by how much faster or slower they run now than when it was profiled.

    Run it on the device the profile describes, shortly before searching: a shared VM or a phone that
    throttles runs the same network 10-20% slower at some hours, which no static table foresees."""
    import time

    from nas.latency import (
        SPEED_CHECK_NETWORKS,
        ProfileError,
        default_profile,
        load_profile,
        speed_check_points,
    )
    from nas.latency import speed_check as check_speed

    if (profile_file is None) == (space is None):
        fail("PROFILE_FILE and --space: give one or the other (--space checks the shipped profile)")
    if space is not None:
        check_space(space)
    if networks is not None and networks < 1:
        fail(f"--networks: must be at least 1, got {networks}")
    check_out(out)
    try:
        before = default_profile(space) if space else load_profile(profile_file)
    except (ValueError, ProfileError) as error:
        fail(str(error))
    started = time.perf_counter()
    networks = SPEED_CHECK_NETWORKS if networks is None else networks
    count = len(speed_check_points(before, networks))
    with stage_bar() as bar:
        task = bar.add_task("networks", total=count * before.measurement.rounds)
        try:
            after = check_speed(before, networks, lambda n: bar.advance(task, n))
        except (ValueError, ProfileError) as error:
            fail(str(error))
    out.write_text(after.to_json())
    check = after.speed_check
    pace = "slower" if check.factor >= 1 else "faster"
    typer.echo(
        f"wrote {out}: {check.networks} calibration networks took {check.factor:.3f}x their recorded times "
        f"({abs(check.factor - 1):.1%} {pace}; per network {check.low:.2f}-{check.high:.2f}), "
        f"{time.perf_counter() - started:.0f} s; every prediction is scaled by {check.factor:.3f}"
    )
    if not (1 / FOREIGN_FACTOR <= check.factor <= FOREIGN_FACTOR) or check.high / check.low > FOREIGN_SPREAD:
        typer.echo(
            f"warning: a factor of {check.factor:.2f}, or ratios from {check.low:.2f} to {check.high:.2f}, is more "
            "than a device's speed moves from hour to hour: this looks like another device, or another setting. "
            "One factor cannot make a table fit it; measure it with `nas profile`.", err=True)
