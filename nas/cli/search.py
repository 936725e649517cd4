"""``nas search``: run a search on this machine, store it, and print its Pareto front; this CPU is timed
for its own profile first where it has no shipped one."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from nas.cli._common import (
    app,
    check_out,
    fail,
    fail_invalid,
    open_service_store,
    split_names,
    stage_bar,
)
from nas.errors import InvalidField
from nas.search.request import parse_request


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
    macs_max: Annotated[Optional[int], typer.Option(help="Most multiply-adds a candidate may have.")] = None,
    proxy: Annotated[Optional[str], typer.Option(help="Zero-cost proxy that scores candidates (default meco).")] = None,
    ensemble: Annotated[
        Optional[str], typer.Option(help="Comma-separated proxies whose log-rank sum scores candidates.")
    ] = None,
    objective: Annotated[
        Optional[list[str]], typer.Option(help="Extra objective to minimise: params or macs; repeat the flag.")
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
    from nas.search import service

    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, batch_size))
    fields = {  # the same request, checks and defaults as POST /api/v1/searches
        "space": space, "budget": budget, "seed": seed, "batch_size": batch_size, "data": data,
        "latency_max_ms": latency_max_ms, "params_max": params_max, "macs_max": macs_max, "proxy": proxy,
        "ensemble": list(split_names(ensemble, "--ensemble")) if ensemble else None,
        "objectives": list(objective or []), "proxy_batch": proxy_batch,
        **({"strategy": strategy} if strategy else {}), **({"device": device} if device else {}),
    }
    check_out(out)
    store = open_service_store()
    try:
        backend = local_evaluator(workers)  # a bad --workers is refused before anything is stored
        request = parse_request(fields)
        record = service.submit(store, request, calibrate=lambda name: _calibrate_here(store, name))
    except InvalidField as error:
        fail_invalid(error, FLAGS)
    profile = store.profiles.load(record.profile_id)
    typer.echo(f"latency: {record.device} profile v{record.request['profile_version']}, {profile.origin()}")
    store.searches.update(record.id, status="running")
    config = request.to_config()
    typer.echo(
        f"search {record.id}: {space} on {record.device} (profile v{record.request['profile_version']}), "
        f"{config.strategy}, {budget} candidates, score {'+'.join(config.proxy.proxies)}"
        + (f", latency <= {latency_max_ms} ms" if latency_max_ms else "")
    )
    started = time.perf_counter()
    with _progress_bar(budget) as progress:
        finished = service.run(store, record, backend, progress=progress)
    _report(record.id, record.request, finished, time.perf_counter() - started, out)


# The request's fields as the flags name them, where the flag is not --field-name.
FLAGS = {"objectives": "--objective", "ensemble": "--ensemble", "proxy": "--proxy"}


def local_evaluator(workers: int):
    """What evaluates candidates: this process (one worker) or a pool, one torch thread each (see
    nas/search/evaluators.py for the measurement behind it)."""
    from nas.search import LocalEvaluator

    if workers < 1:
        raise InvalidField("workers", f"must be at least 1, got {workers}")
    # Ctrl-C is the CLI's cancel: should_stop is never set here.
    return lambda space, proxy, data, profile, should_stop: LocalEvaluator(space, proxy, data, profile,
                                                                          workers=workers, threads=1)


@contextmanager
def _progress_bar(budget: int):
    """A bar of evaluations with the best score, the hypervolume and the front's size after each batch."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns) as bar:
        task = bar.add_task("evaluations", total=budget, status="")

        def show(current) -> None:
            state = current.progress()
            best = "-" if state.best_score is None else f"{state.best_score:.4g}"
            bar.update(task, completed=state.evaluated,
                       status=f"best {best}  hv {state.hypervolume:.3f}  front {state.front_size}")

        yield show


def _report(search_id: int, request: dict, finished, duration: float, out: Path | None) -> None:
    """Print how the search ended and its front; write --out; exit 2 if it failed, 130 if cancelled."""
    runner, status = finished.search, finished.status
    if status == "failed":
        fail(f"search {search_id} failed after {runner.evaluated if runner else 0} candidates: {finished.error}")
    if runner.exhausted:
        typer.echo(f"the space has fewer new candidates than the budget: stopped at {runner.evaluated}")
    front = runner.front()
    _print_front(front, runner.config.objectives.extra)
    hypervolume = runner.history[-1][1] if runner.history else 0.0
    typer.echo(
        f"search {search_id} {status}: {runner.evaluated} evaluated in {duration:.0f} s "
        f"({runner.evaluated / max(duration, 1e-9):.2f}/s), front of {len(front)}"
        + (f", hypervolume {hypervolume:.3f}" if runner.history else "")
    )
    if out is not None:
        document = {
            "search_id": search_id, "request": request, "status": status,
            "evaluated": runner.evaluated, "duration_s": round(duration, 3), "hypervolume": hypervolume,
            "history": [list(point) for point in runner.history],
            "front": [{k: v for k, v in c.row().items() if k != "feasible"} for c in front],
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
    with stage_bar() as bar:
        task = bar.add_task("timing networks", total=None)
        record = local_profile(store, space, progress=lambda done, total: bar.update(task, completed=done, total=total))
    return record


def _print_front(front, extra: tuple[str, ...]) -> None:
    header = f"{'#':>3}  {'score':>10}  {'latency ms':>10}  {'params':>10}  {'MMACs':>9}  arch"
    typer.echo(header)
    for i, c in enumerate(front, 1):
        m = c.metrics
        typer.echo(f"{i:>3}  {c.score:>10.4g}  {m.latency_ms:>10.2f}  {m.params:>10,}  {m.macs / 1e6:>9.1f}  {m.arch}")
