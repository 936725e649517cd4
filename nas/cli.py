"""The ``nas`` command line (typer): ``nas serve``, ``spaces``, ``proxies``, ``profile``, ``recalibrate``,
``merge-profiles``, ``speed-check``, ``search``, ``devices``, ``export``, ``kit``, ``datasets``."""

from __future__ import annotations

import json
import os
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


# A speed check beyond these looks like another device rather than the same one at another hour (this
# VM: 0.93-1.21 times its tables over a day, the networks of one check within 15% of each other).
FOREIGN_FACTOR = 1.35
FOREIGN_SPREAD = 1.25


def _check_out(out: Path | None) -> None:
    """Refuse an --out whose folder does not exist before any work is done."""
    if out is not None and not out.parent.exists():
        _fail(f"--out: folder {str(out.parent)!r} does not exist")


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
    from nas.latency.measure import RUNTIMES, check_accelerator
    from nas.latency.profiler import profile_space
    from nas.latency.schema import DEVICE_NAME_PATTERN, STATISTICS

    if space not in searchspaces.names():
        _fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")
    if runtime not in RUNTIMES:
        _fail(f"--runtime: unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    if statistic not in STATISTICS:
        _fail(f"--statistic: must be one of {', '.join(STATISTICS)}, got {statistic!r}")
    try:
        check_accelerator(accelerator, runtime)
    except ValueError as error:
        _fail(f"--accelerator: {error}")
    if not re.match(DEVICE_NAME_PATTERN, device_name):
        _fail(f"--device-name: {device_name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    _check_out(out)
    started = time.perf_counter()
    with _stage_bar() as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        try:
            result = profile_space(
                space, device_name, runtime=runtime, accelerator=accelerator, threads=threads, resolutions=resolution,
                batch_size=batch_size,
                repeats=repeats, warmup=warmup, rounds=rounds, statistic=statistic,
                calibration=calibration, validation=validation, seed=seed, hardware=hardware,
                progress=progress,
            )
        except (ValueError, ProfileError) as error:
            _fail(str(error))
    out.write_text(result.to_json())
    check = result.validation
    typer.echo(
        f"wrote {out}: {len(result.entries)} block keys, {_calibration_line(result)}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    if check.n:
        typer.echo(f"validation on {_validation_line(check)}")


@app.command()
def recalibrate(
    profile_file: Annotated[Path, typer.Argument(help="A profile written by `nas profile`.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Where to write the refitted profile (JSON).")],
) -> None:
    """Fit a profile's calibration again on the networks it recorded, measuring nothing.

    Adds per-kind scales where they predict better (profiles written before they existed)."""
    from nas.latency import ProfileError, load_profile
    from nas.latency.profiler import recalibrate as refit

    _check_out(out)
    try:
        before = load_profile(profile_file)
        after = refit(before)
    except (ValueError, ProfileError) as error:
        _fail(str(error))
    out.write_text(after.to_json())
    scales = after.calibration.kind_scales
    typer.echo(f"wrote {out}: {_calibration_line(after)}")
    if scales:
        typer.echo("per-kind scales: " + ", ".join(f"{kind} {value:.2f}" for kind, value in sorted(scales.items())))
    for name, check in (("before", before.validation), ("after", after.validation)):
        if check.n:
            typer.echo(f"validation {name}: {_validation_line(check)}")


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
    from nas.latency import ProfileError, load_profile
    from nas.latency.profiler import merge_sessions, session_speeds

    _check_out(out)
    try:
        sessions = [load_profile(path) for path in profile_files]
        merged = merge_sessions(sessions, [str(path) for path in profile_files])
    except (ValueError, ProfileError) as error:
        _fail(str(error))
    out.write_text(merged.to_json())
    typer.echo(f"wrote {out}: {len(sessions)} sessions, {_calibration_line(merged)}")
    for path, session, speed in zip(profile_files, sessions, session_speeds(sessions, merged)):
        pace = "" if speed is None else f": its networks took {speed:.3f}x the merged times"
        typer.echo(f"  {session.measurement.measured_at.isoformat()} {path}{pace}")
    if merged.validation.n:
        typer.echo(f"validation on {_validation_line(merged.validation)}")


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

    from nas.latency import ProfileError, default_profile, load_profile
    from nas.latency.profiler import SPEED_CHECK_NETWORKS, speed_check_points
    from nas.latency.profiler import speed_check as check_speed

    if (profile_file is None) == (space is None):
        _fail("PROFILE_FILE and --space: give one or the other (--space checks the shipped profile)")
    if space is not None and space not in searchspaces.names():
        _fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")
    if networks is not None and networks < 1:
        _fail(f"--networks: must be at least 1, got {networks}")
    _check_out(out)
    try:
        before = default_profile(space) if space else load_profile(profile_file)
    except (ValueError, ProfileError) as error:
        _fail(str(error))
    started = time.perf_counter()
    networks = SPEED_CHECK_NETWORKS if networks is None else networks
    count = len(speed_check_points(before, networks))
    with _stage_bar() as bar:
        task = bar.add_task("networks", total=count * before.measurement.rounds)
        try:
            after = check_speed(before, networks, lambda n: bar.advance(task, n))
        except (ValueError, ProfileError) as error:
            _fail(str(error))
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


def _stage_bar():
    """The progress bar of the commands that time networks: one line per stage, done of total, elapsed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, transient=False)


def _calibration_line(profile) -> str:
    calibration = profile.calibration
    kinds = f", {len(calibration.kind_scales)} kind scales" if calibration.kind_scales else ""
    return f"calibration a={calibration.a:.3f} b={calibration.b:.3f} ms{kinds} on {calibration.fit_on} networks"


def _validation_line(check) -> str:
    rho = "n/a" if check.spearman is None else f"{check.spearman:.3f}"
    return (f"{check.n} other networks: {100 * check.within_10pct:.0f}% within +-10%, "
            f"MAPE {100 * check.mape:.1f}%, Spearman {rho}")


def _store():
    """The service's database (``DATABASE_URL``, else SQLite under ``./var``), with the shipped
    devices registered."""
    from nas.storage import StorageError, open_store

    _settings()
    try:
        store = open_store()
        store.ensure_shipped_devices()
    except StorageError as error:
        _fail(str(error))
    return store


def _split(text: str, flag: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        _fail(f"{flag}: name at least one value")
    return names


@app.command()
def search(
    space: Annotated[str, typer.Option(help="Search space (see `nas spaces`).")],
    device: Annotated[
        Optional[str],
        typer.Option(help="Device whose latest profile predicts latency (default: the shipped one of this CPU)."),
    ] = None,
    strategy: Annotated[str, typer.Option(help="random, evolution, nsga2 or tpe.")] = "",
    budget: Annotated[int, typer.Option(help="Candidates to evaluate.")] = 100,
    latency_max_ms: Annotated[Optional[float], typer.Option(help="Latency budget in ms on the device.")] = None,
    params_max: Annotated[Optional[int], typer.Option(help="Most parameters a candidate may have.")] = None,
    flops_max: Annotated[Optional[int], typer.Option(help="Most multiply-adds a candidate may have.")] = None,
    proxy: Annotated[Optional[str], typer.Option(help="Zero-cost proxy that scores candidates (default synflow).")] = None,
    ensemble: Annotated[
        Optional[str], typer.Option(help="Comma-separated proxies whose mean rank scores candidates.")
    ] = None,
    objective: Annotated[
        Optional[list[str]], typer.Option(help="Extra objective to minimise: params or flops; repeat the flag.")
    ] = None,
    data: Annotated[str, typer.Option(help="Proxy data: cifar10_sample (real images), synthetic, or an uploaded dataset's name.")] = "cifar10_sample",
    proxy_batch: Annotated[Optional[int], typer.Option(help="Images per proxy batch (default: the space's).")] = None,
    batch_size: Annotated[int, typer.Option(help="Candidates asked of the strategy per round.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the strategy and the initial weights.")] = 0,
    workers: Annotated[
        Optional[int], typer.Option(help="Processes that evaluate candidates, one torch thread each (default: the cores).")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the request and the front as JSON here.")] = None,
) -> None:
    """Run a search on this machine, store it, and print its Pareto front."""
    import time

    from pydantic import ValidationError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nas.evaluate import load_data
    from nas.search import Search, local_evaluator
    from nas.search.persist import Recorder, stored_dataset, stored_evaluator
    from nas.latency.local import is_local
    from nas.search.request import SearchRequest
    from nas.storage import NotFound

    if space not in searchspaces.names():
        _fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")
    if proxy and ensemble:
        _fail("--proxy and --ensemble: give one or the other")
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, batch_size))
    if workers < 1:
        _fail(f"--workers: must be at least 1, got {workers}")
    # The same request, checks and defaults as POST /api/v1/searches.
    fields = {
        "space": space, "budget": budget, "seed": seed, "batch_size": batch_size, "data": data,
        "latency_max_ms": latency_max_ms, "params_max": params_max, "flops_max": flops_max, "proxy": proxy,
        "ensemble": list(_split(ensemble, "--ensemble")) if ensemble else None,
        "objectives": list(objective or []), "proxy_batch": proxy_batch,
        **({"strategy": strategy} if strategy else {}), **({"device": device} if device else {}),
    }
    try:
        search_request = SearchRequest.model_validate(fields)
        config = search_request.to_config()
    except ValidationError as error:
        item = error.errors()[0]
        flag = {"objectives": "--objective"}.get(str(item["loc"][0]), "--" + str(item["loc"][0]).replace("_", "-"))
        _fail(f"{flag}: {item['msg']}, got {item.get('input')!r}")
    except ValueError as error:
        _fail(_flag_message(str(error), "--ensemble" if ensemble else "--proxy"))
    proxy_config, proxies = config.proxy, config.proxy.proxies
    _check_out(out)

    store = _store()
    device_name = search_request.device
    try:
        profile_record = store.get_profile(device_name, space)
    except NotFound:
        if not is_local(device_name):
            known = [d.name for d in store.list_devices() if store.list_profiles(d.name, space)]
            _fail(f"--device: no device {device_name!r} with a profile for {space}; known: {', '.join(known) or 'none'}")
        profile_record = _calibrate_here(store, space)
    profile = store.load_profile(profile_record.id)
    typer.echo(f"latency: {device_name} profile v{profile_record.version}, {profile.origin()}")
    searched = searchspaces.get(space)
    try:
        uploaded = stored_dataset(store, proxy_config, profile.num_classes)
        batch = load_data(proxy_config, searched, profile.num_classes, uploaded)
    except ValueError as error:
        _fail(_flag_message(str(error)))
    request = {**search_request.model_dump(), "profile_version": profile_record.version}
    record = store.create_search(request, space=space, device=device_name, profile_id=profile_record.id,
                                 strategy=config.strategy, budget=budget, seed=seed)
    store.update_search(record.id, status="running")
    recorder = Recorder(store, record.id)
    # One torch thread per process: see nas/search/evaluators.py for the measurement behind it.
    inner = local_evaluator(searched, proxy_config, batch, profile, workers=workers, threads=1)
    evaluator = stored_evaluator(store, searched, proxy_config, batch, profile, profile_record.id, inner)
    typer.echo(
        f"search {record.id}: {space} on {device_name} (profile v{profile_record.version}), "
        f"{config.strategy}, {budget} candidates, score {'+'.join(proxies)}"
        + (f", latency <= {latency_max_ms} ms" if latency_max_ms else "")
    )
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[status]}"))
    runner = Search(config)
    status = "succeeded"
    try:
        with Progress(*columns) as bar:
            task = bar.add_task("evaluations", total=budget, status="")

            def progress(current: Search) -> None:
                recorder(current)
                state = current.progress()
                best = "-" if state.best_score is None else f"{state.best_score:.4g}"
                bar.update(task, completed=state.evaluated,
                           status=f"best {best}  hv {state.hypervolume:.3f}  front {state.front_size}")

            runner.run(evaluator, progress=progress)
    except KeyboardInterrupt:
        status = "cancelled"
    except Exception as error:  # the search failed: say why, keep what it found
        recorder(runner)
        store.update_search(record.id, status="failed", error=f"{type(error).__name__}: {error}")
        _fail(f"search {record.id} failed after {runner.evaluated} candidates: {error}")
    finally:
        inner.close()
    recorder(runner)
    if runner.exhausted:
        typer.echo(f"the space has fewer new candidates than the budget: stopped at {runner.evaluated}")
    store.update_search(record.id, status=status)
    duration = time.perf_counter() - started
    front = runner.front()
    _print_front(front, config.objectives.extra)
    typer.echo(
        f"search {record.id} {status}: {runner.evaluated} evaluated in {duration:.0f} s "
        f"({runner.evaluated / max(duration, 1e-9):.2f}/s), front of {len(front)}"
        + (f", hypervolume {runner.history[-1][1]:.3f}" if runner.history else "")
    )
    if out is not None:
        document = {
            "search_id": record.id,
            "request": request,
            "status": status,
            "evaluated": runner.evaluated,
            "duration_s": round(duration, 3),
            "hypervolume": runner.history[-1][1] if runner.history else 0.0,
            "history": [list(point) for point in runner.history],
            "front": [
                {k: v for k, v in c.row().items() if k != "feasible"} for c in front
            ],
        }
        out.write_text(json.dumps(document, indent=2))
        typer.echo(f"wrote {out}")
    if status == "cancelled":
        raise typer.Exit(130)


def _calibrate_here(store, space: str):
    """This machine's profile of ``space``, fitted here with a progress bar: its CPU has no shipped table."""
    from nas.latency.local import KIT_NETWORKS
    from nas.latency.shipped import host_cpu
    from nas.storage.here import local_profile

    typer.echo(f"this CPU ({host_cpu()}) has no shipped latency table: timing {KIT_NETWORKS} {space} networks "
               "end to end here to fit its own (tens of seconds, once; NAS_DEFAULT_DEVICE picks another device)")
    with _stage_bar() as bar:
        task = bar.add_task("timing networks", total=None)
        record = local_profile(store, space, progress=lambda done, total: bar.update(task, completed=done, total=total))
    return record


def _flag_message(message: str, proxy_flag: str = "--proxy") -> str:
    """Engine messages name fields (``budget: ...``); the CLI names them as flags."""
    flags = {"latency_ms": "--latency-max-ms", "params": "--params-max", "flops": "--flops-max",
             "constraints.latency_ms": "--latency-max-ms", "constraints.params": "--params-max",
             "constraints.flops": "--flops-max", "proxies": proxy_flag, "ensemble": "--ensemble",
             "batch_size": "--batch-size", "objectives": "--objective", "data": "--data",
             "proxy_batch": "--proxy-batch", "strategy": "--strategy", "budget": "--budget"}
    head, sep, rest = message.partition(": ")
    if sep and head in flags:
        return f"{flags[head]}: {rest}"
    return message


def _print_front(front, extra: tuple[str, ...]) -> None:
    header = f"{'#':>3}  {'score':>10}  {'latency ms':>10}  {'params':>10}  {'MMACs':>9}  arch"
    typer.echo(header)
    for i, c in enumerate(front, 1):
        m = c.metrics
        typer.echo(f"{i:>3}  {c.score:>10.4g}  {m.latency_ms:>10.2f}  {m.params:>10,}  {m.flops / 1e6:>9.1f}  {m.arch}")


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
        _fail(f"--format: must be one of {', '.join(FORMATS)}, got {export_format!r}")
    if (candidate is None) == (space is None and arch is None):
        _fail("--candidate or --space with --arch: give one or the other")
    if candidate is None and (space is None or arch is None):
        missing, given = ("--space", "--arch") if space is None else ("--arch", "--space")
        _fail(f"{missing}: required with {given}")
    _check_out(out)
    if candidate is not None:
        store = _store()
        try:
            target = stored_candidate(store, candidate, num_classes, seed)
        except NotFound as error:
            _fail(f"--candidate: {error}")
        finally:
            store.close()
    else:
        if space not in searchspaces.names():
            _fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")
        try:
            found, decoded = resolve(space, arch)
        except ValueError as error:
            _fail(f"--arch: {error}")
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

    if space not in searchspaces.names():
        _fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")
    resolutions = searchspaces.get(space).resolutions
    if resolution is not None and resolution not in resolutions:
        _fail(f"--resolution: space {space!r} has no resolution {resolution}; choose from {list(resolutions)}")
    _check_out(out)
    if out.exists() and not out.is_dir():
        _fail(f"--out: {str(out)!r} is a file, not a folder")
    if (out / "kit.json").exists() and not overwrite:
        _fail(f"--out: {str(out)!r} holds a kit already; choose another folder or pass --overwrite")
    with _stage_bar() as bar:
        task = bar.add_task("exporting networks", total=n)
        made = make_kit(space, out, n=n, resolution=resolution, seed=seed, num_classes=num_classes,
                        overwrite=overwrite, progress=lambda done, total: bar.update(task, completed=done))
    typer.echo(f"wrote {out}: {len(made['networks'])} networks of {space} (ONNX), kit.json and measure.py")
    typer.echo(
        f"next, time it on the device: python {out / 'measure.py'} --threads N (needs onnxruntime and numpy), "
        f"or time the .onnx files with the device's own tool and write {out / 'measurements.csv'} "
        f"(columns arch,ms);\nthen: nas devices fit NAME --space {space} --measurements {out / 'measurements.csv'}")


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
    store = _store()
    rows = []
    for device in store.list_devices():
        profiles = store.list_profiles(device.name)
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
            _fail(f"--profile: {error}")
    store = _store()
    try:
        store.get_device(name)
    except NotFound:
        try:
            store.add_device(name, hardware=hardware)
        except ValueError as error:
            _fail(f"NAME: {error}")
        typer.echo(f"registered device {name}")
    for path, loaded in profiles:
        record = store.add_profile(name, loaded)
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
    from nas.storage.here import ShippedDevice, add_fitted, fittable

    fields = {"hardware": hardware, "runtime": runtime, "runtime_version": runtime_version, "threads": threads,
              "batch_size": batch_size, "precision": precision}
    if not re.match(DEVICE_NAME_PATTERN, name):
        _fail(f"NAME: {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    if space not in searchspaces.names():
        _fail(f"--space: unknown space {space!r}; choose from {', '.join(searchspaces.names())}")
    for field, longest in FIT_DEVICE_FLAGS.items():
        if fields[field] is not None and not 0 < len(fields[field]) <= longest:
            _fail(f"--{field.replace('_', '-')}: must be 1-{longest} characters, got {len(fields[field])}")
    if precision is not None and precision not in PRECISIONS:
        _fail(f"--precision: must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    try:
        data = measurements.read_bytes()
    except OSError as error:
        _fail(f"--measurements: cannot read {str(measurements)!r}: {error.strerror or error}")
    store = _store()
    try:
        fittable(store, name)
        rows = read_csv(data, source=str(measurements))
        fitted = fit_profile(space, rows, device={**fields, "name": name}, tool=tool)
    except ShippedDevice as error:
        _fail(f"NAME: {str(error).partition(': ')[2]}")
    except MeasurementError as error:
        count = len(error.problems)
        _fail(f"--measurements {measurements}: {count} problem{'s' * (count != 1)}:\n"
              + "\n".join(f"  - {problem}" for problem in error.problems))
    except (ProfileError, ValueError) as error:
        _fail(str(error))
    record, created = add_fitted(store, name, fitted, hardware or "")
    if created:
        typer.echo(f"registered device {name}")
    check = fitted.validation
    rho = "n/a" if check.spearman is None else f"{check.spearman:.3f}"
    typer.echo(f"stored {name} / {space} version {record.version}: fitted from {fitted.fit.n} measurements "
               f"({fitted.fit.method})")
    typer.echo(f"cross-validated ({check.method}) on {check.n} networks: Spearman {rho}, "
               f"MAPE {100 * check.mape:.1f}%, {100 * check.within_10pct:.0f}% within +-10%")


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
             "created_at": d.created_at.isoformat()} for d in _store().list_datasets()]
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
        _fail(f"NAME: {name!r} is a built-in dataset; choose another name")
    try:
        content = file.read_bytes()
    except OSError as error:
        _fail(f"--file: cannot read {str(file)!r}: {error.strerror or error}")
    try:
        dataset = read_npz(content, num_classes)
    except DatasetError as error:
        _fail(f"--file: {error}")
    try:
        record = _store().add_dataset(name, content, dataset.describe(), description)
    except AlreadyExists as error:
        _fail(f"NAME: {error}")
    except ValueError as error:
        _fail(f"NAME: {error}")
    typer.echo(f"stored dataset {record.name}: {record.num_images} images of {record.height}x{record.width}, "
               f"{record.num_classes} classes")

if __name__ == "__main__":
    app()
