"""A search's evaluations on Ray: our ask/tell loop over Ray tasks against Ray Tune with OptunaSearch.

The issue left the choice open ("Ray Tune with Optuna's search, or Ray tasks: choose from a
measurement"); this is the measurement. The same search (``--spaces``, ``--budget`` candidates,
``--seed``, multi-objective TPE, the default proxy, synflow, and the shipped device profile) runs on
one local Ray (``ray.init(num_cpus=--cpus)`` once, in a temp dir removed at the end) two ways:

- *tasks*: what the service's dispatcher runs, minus the database: ``Search(SearchConfig(space,
  strategy="tpe", ...)).run(evaluator)`` with ``workers.ray_backend.RayEvaluator`` (data and profile
  put in the object store once, one task of one CPU and one torch thread per candidate, batches of 8).
  The only change is that the task also returns how long its ``evaluate`` call took (a twin of
  ``_evaluate_task`` with the same options), so the overhead can be computed;
- *tune*: a ``Tuner`` over a function trainable (data and profile through ``tune.with_parameters``,
  1 CPU per trial, one torch thread) that rebuilds the arch Optuna chose and calls
  ``nas.evaluate.evaluate``, reporting score and latency_ms; ``OptunaSearch`` with a define-by-run
  space (the space's own ``sample_with``, each choice a ``suggest_categorical``), metrics
  ["score", "latency_ms"], modes ["max", "min"], ``num_samples`` = budget, ``max_concurrent_trials``
  = cores, no trial checkpoints, ``verbose=0``, storage in a temp dir. Its TPESampler has the
  settings our loop's has (seed, ``n_startup_trials`` = the loop's population size, multivariate,
  group), so both run the same sampler. Tune's default is a fresh actor (a process) per trial;
  *tune_reuse* is the same with ``reuse_actors=True``.

Per run: wall seconds from the start (the object-store puts included) to the last result,
evaluations per second, the seconds to the first results (the loop's first batch, Tune's first
trial), the steady rate after them (the later evaluations / the later seconds: what a larger budget
tends to), and the overhead per evaluation:
(wall - the sum of the evaluate() calls' own durations / cores) / evaluations, i.e. the wall time
not explained by evaluating on every core. Also the unique architectures evaluated (Tune may
propose an arch twice and evaluates it again; our loop evaluates each once) and the best score
(no constraint). Before each tasks run, one untimed task per core warms Ray's task workers (their
seconds are recorded): a Tune run's actors take over idle task workers, and the service's Ray, which
runs only tasks, starts its workers once, not per search. Tune's actors start within each run, as
they would for every search. The ways alternate, their order rotating each repeat; medians are
reported, and Tune's wall over the tasks' wall per repeat.

    .venv/bin/python bench/ray_tune_vs_tasks.py [--spaces nasbench201,mobilenetv3] [--budget 64] \
        [--seed 0] [--repeats 3] [--ways tasks,tune,tune_reuse] [--cpus 2] [--out FILE] [--quick] [--write]

Ray is shut down and every temp dir removed at the end, also when a run fails; a Tune trial's error
is printed with its traceback and ends the bench (exit status 1). Figures, machine facts and the
command go to ``--out`` (JSON; default ``bench/results/ray_tune_vs_tasks.json``) and the same path
with ``.md``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _harness as h
import ray
from ray import tune

import searchspaces
from nas.evaluate import Metrics, ProxyConfig, evaluate, load_data
from nas.latency import default_profile
from nas.proxies import FLOOR
from nas.search import Search, SearchConfig
from nas.search.strategies import population_size
from workers.ray_backend import RayEvaluator

WAYS = ("tasks", "tune", "tune_reuse")
STRATEGY = "tpe"


@contextmanager
def local_ray(cpus: int):
    """A local Ray of ``cpus`` CPUs whose session files live in a temp dir; shut down and removed after."""
    folder = tempfile.mkdtemp(prefix="nas-raybench-", dir="/tmp")  # short: Ray's socket paths
    try:
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
                 _temp_dir=folder)
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


# -- (a) our loop over Ray tasks ----------------------------------------------------------------------
@ray.remote(num_cpus=1, max_retries=2)
def _timed_evaluate_task(arch: str, space_name: str, proxy: ProxyConfig, data: Any, profile: Any) -> tuple:
    import torch

    torch.set_num_threads(1)
    seconds, metrics = h.timed(evaluate, arch, searchspaces.get(space_name), proxy, data, profile)
    return metrics, seconds


class TimedRayEvaluator(RayEvaluator):
    """``RayEvaluator`` whose tasks also say how long ``evaluate`` took (``seconds``, in order)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seconds: list[float] = []

    def __call__(self, archs: list[Any]) -> list[Metrics]:
        refs = [_timed_evaluate_task.remote(self.space.encode(a), self.space.name, self.proxy, self.data_ref,
                                            self.profile_ref) for a in archs]
        out = ray.get(refs)
        self.seconds += [seconds for _, seconds in out]
        return [metrics for metrics, _ in out]


def run_tasks(space_name: str, budget: int, seed: int) -> dict:
    space, profile, proxy = searchspaces.get(space_name), default_profile(space_name), ProxyConfig()
    data = load_data(proxy, space, profile.num_classes)
    batches: list[float] = []
    started = time.perf_counter()
    evaluator = TimedRayEvaluator(space, proxy, data, profile)
    search = Search(SearchConfig(space_name, strategy=STRATEGY, budget=budget, seed=seed, proxy=proxy))
    search.run(evaluator, progress=lambda _: batches.append(time.perf_counter()))
    return figures(batches[-1] - started, batches[0] - started, search.history[0][0], evaluator.seconds,
                   [c.metrics.arch_hash for c in search.candidates], [c.score for c in search.candidates])


# -- (b) Ray Tune with OptunaSearch -------------------------------------------------------------------
def tune_trainable(config: dict, space_name: str, proxy: ProxyConfig, data: Any, profile: Any) -> None:
    import torch

    torch.set_num_threads(1)
    space = searchspaces.get(space_name)
    arch = space.sample_with(lambda name, options: config[name])  # the choices Optuna made, replayed
    seconds, metrics = h.timed(evaluate, arch, space, proxy, data, profile)
    tune.report({"score": metrics.scores[proxy.proxies[0]], "latency_ms": metrics.latency_ms,
                 "eval_s": seconds, "arch_hash": metrics.arch_hash})


class SuggestArch:
    """OptunaSearch's define-by-run space: the space's choices, each a ``suggest_categorical``. A class,
    not a closure: Tune pickles the searcher (with the standard pickle) when it saves its state."""

    def __init__(self, space_name: str) -> None:
        self.space_name = space_name

    def __call__(self, trial: Any) -> None:
        searchspaces.get(self.space_name).sample_with(
            lambda name, options: trial.suggest_categorical(name, list(options)))


class ResultTimes(tune.Callback):
    """Driver-side arrival time of every trial result, and every trial that errored."""

    def __init__(self) -> None:
        self.results: list[tuple[float, dict]] = []
        self.errored: list[str] = []

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.results.append((time.perf_counter(), result))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.errored.append(f"{trial.trial_id}: {trial.error_file or 'no error file'}")


def run_tune(space_name: str, budget: int, seed: int, reuse: bool = False) -> dict:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, profile, proxy = searchspaces.get(space_name), default_profile(space_name), ProxyConfig()
    data = load_data(proxy, space, profile.num_classes)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=population_size(budget),
                                             multivariate=True, group=True)
    storage = tempfile.mkdtemp(prefix="nas-tune-", dir="/tmp")
    times = ResultTimes()
    try:
        started = time.perf_counter()
        trainable = tune.with_resources(
            tune.with_parameters(tune_trainable, space_name=space_name, proxy=proxy, data=data, profile=profile),
            {"cpu": 1})
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=OptunaSearch(SuggestArch(space_name), metric=["score", "latency_ms"], mode=["max", "min"],
                                        sampler=sampler),
                num_samples=budget, max_concurrent_trials=cpus, reuse_actors=reuse),
            run_config=tune.RunConfig(name="bench", storage_path=storage, verbose=0, callbacks=[times],
                                      checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=0)),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            grid = tuner.fit()
        fit_s = time.perf_counter() - started
    except Exception:
        raise TuneFailed(space_name, None, times, budget, traceback.format_exc()) from None
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    if grid.errors or times.errored or len(times.results) != budget:
        raise TuneFailed(space_name, grid, times, budget)
    ends = [t - started for t, _ in times.results]
    rows = [r for _, r in times.results]
    out = figures(max(ends), min(ends), 1, [r["eval_s"] for r in rows], [r["arch_hash"] for r in rows],
                  [r["score"] for r in rows])
    return {**out, "fit_s": fit_s}


class TuneFailed(RuntimeError):
    """Tune raised (``raised``: its traceback), or a trial errored, or results are missing."""

    def __init__(self, space_name: str, grid: Any, times: ResultTimes, budget: int, raised: str = "") -> None:
        errors = list(grid.errors) if grid is not None else []
        lines = [f"Ray Tune on {space_name}: {len(times.results)} of {budget} results, {len(errors)} trial errors"]
        lines += [f"  errored trial {e}" for e in times.errored]
        lines += [f"  --- trial error {i + 1} ---\n{error}" for i, error in enumerate(errors)]
        lines += [f"  --- Tuner.fit raised ---\n{raised}"] if raised else []
        super().__init__("\n".join(lines))


# -- figures, table, report --------------------------------------------------------------------------
def figures(wall: float, first: float, first_count: int, eval_seconds: list[float], hashes: list[str],
            scores: list[float]) -> dict:
    """``first``: seconds to the first results to arrive, ``first_count`` of them (the loop's first batch;
    one Tune trial)."""
    cpus = ray.cluster_resources().get("CPU", 1)
    n = len(hashes)
    defined = [s for s in scores if s > FLOOR]
    return {
        "evaluated": n, "unique": len(set(hashes)), "wall_s": wall, "first_result_s": first,
        "evals_per_s": n / wall, "steady_evals_per_s": (n - first_count) / (wall - first) if wall > first else None,
        "eval_sum_s": sum(eval_seconds),
        "overhead_per_eval_s": (wall - sum(eval_seconds) / cpus) / n,
        "best_score": max(defined) if defined else None,
    }


RUNNERS = {"tasks": run_tasks, "tune": run_tune, "tune_reuse": lambda *a: run_tune(*a, reuse=True)}


def warm_up(space_name: str, cpus: int) -> float:
    """One task per core (Ray's task workers import torch and the space): its seconds. A Tune run's actors
    take over idle task workers, so the next tasks run would otherwise start cold, which a service whose
    Ray runs only tasks does once, not per search."""
    with h.Timer() as timer:
        space, profile, proxy = searchspaces.get(space_name), default_profile(space_name), ProxyConfig()
        evaluator = RayEvaluator(space, proxy, load_data(proxy, space, profile.num_classes), profile)
        evaluator([space.sample_with(lambda _, options: options[0]) for _ in range(cpus)])
    return timer.seconds


FIGURES = ("wall_s", "evals_per_s", "steady_evals_per_s", "first_result_s", "overhead_per_eval_s", "unique",
           "best_score", "eval_sum_s")


def summarise(runs: list[dict], spaces: list[str], ways: list[str]) -> dict:
    out = {}
    for sp in spaces:
        per = {w: [r for r in runs if r["space"] == sp and r["way"] == w] for w in ways}
        out[sp] = {w: {k: h.median(r.get(k) for r in rs) for k in FIGURES} for w, rs in per.items()}
        if "tasks" in ways:
            for w in ways:
                if w != "tasks":
                    ratios = [b["wall_s"] / a["wall_s"] for a, b in zip(per["tasks"], per[w])]
                    out[sp][w]["wall_ratio_to_tasks_per_repeat"] = ratios
                    out[sp][w]["wall_ratio_to_tasks_median"] = h.median(ratios)
    return out


def run_rows(runs: list[dict]) -> list[str]:
    lines = ["| space | repeat | way (order) | evaluated | unique | wall s | evals/s | first result s | "
             "sum of evaluate() s | overhead ms/eval | best score | load before | tasks' warm-up s |",
             "|---|" + "---|" * 12]
    lines += [f"| {r['space']} | {r['repeat']} | {r['way']} ({r['order']}) | {r['evaluated']} | {r['unique']} | "
              f"{r['wall_s']:.1f} | {r['evals_per_s']:.2f} | {r['first_result_s']:.1f} | {r['eval_sum_s']:.1f} | "
              f"{1000 * r['overhead_per_eval_s']:.0f} | {h.fmt(r['best_score'], '.4g')} | {r['load_before']:.1f} | "
              f"{h.fmt(r['warm_up_s'], '.1f')} |"
              for r in runs]
    return lines


def summary_rows(summary: dict, ways: list[str]) -> list[str]:
    lines = ["| space | way | wall s | evals/s | first result s | steady evals/s | overhead ms/eval | unique | "
             "best score | wall / tasks' wall (per repeat) |", "|---|" + "---|" * 9]
    for sp, per in summary.items():
        for w in ways:
            s = per[w]
            ratio = ("1 (baseline)" if w == "tasks" else
                     f"**{s['wall_ratio_to_tasks_median']:.2f}x** (" + ", ".join(
                         f"{x:.2f}" for x in s["wall_ratio_to_tasks_per_repeat"]) + ")"
                     if "wall_ratio_to_tasks_median" in s else "-")
            lines.append(f"| {sp} | {w} | {h.fmt(s['wall_s'], '.1f')} | {h.fmt(s['evals_per_s'])} | "
                         f"{h.fmt(s['first_result_s'], '.1f')} | {h.fmt(s['steady_evals_per_s'])} | "
                         f"{h.fmt(1000 * s['overhead_per_eval_s'], '.0f')} | "
                         f"{h.fmt(s['unique'], '.0f')} | {h.fmt(s['best_score'], '.4g')} | {ratio} |")
    return lines


def machine(cpus: int) -> dict:
    import optuna
    import torch

    return {**h.facts(), "ray_cpus": cpus, "ray": ray.__version__, "optuna": optuna.__version__,
            "torch": torch.__version__}


def main() -> int:
    parser = h.parser(__doc__, seed=0, quick={"spaces": "nasbench201", "budget": 8, "repeats": 1, "ways": "tasks"})
    parser.add_argument("--spaces", default="nasbench201,mobilenetv3")
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ways", default=",".join(WAYS), help=f"any of {', '.join(WAYS)}")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=h.RESULTS / "ray_tune_vs_tasks.json")
    args = parser.parse_args()
    spaces, ways = h.spaces(parser, args.spaces), h.names(parser, args.ways, WAYS, "--ways")
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/ray_tune_vs_tasks.py", *sys.argv[1:]])
    facts, runs, timer = machine(args.cpus), [], h.Timer()
    try:
        with local_ray(args.cpus):
            print(f"Ray: {ray.cluster_resources().get('CPU')} CPUs", flush=True)
            for repeat in range(args.repeats):
                for sp in spaces:
                    for position, way in enumerate(h.rotated(ways, repeat), 1):  # no way always first
                        warm_s = warm_up(sp, args.cpus) if way == "tasks" else None
                        load = os.getloadavg()[0]
                        run = RUNNERS[way](sp, args.budget, args.seed)
                        runs.append({"space": sp, "way": way, "repeat": repeat + 1, "order": position,
                                     "load_before": load, "warm_up_s": warm_s, **run})
                        print(f"[{timer.seconds:5.0f} s] repeat {repeat + 1} {sp:<12} {way:<10} "
                              f"{run['wall_s']:6.1f} s  {run['evals_per_s']:5.2f} evals/s  "
                              f"overhead {1000 * run['overhead_per_eval_s']:4.0f} ms/eval  "
                              f"unique {run['unique']}/{run['evaluated']}", flush=True)
    except TuneFailed as error:
        print(f"\nRAY TUNE FAILED\n{error}", file=sys.stderr)
        return 1
    summary = summarise(runs, spaces, ways)
    total = timer.seconds
    report = [f"## Ray Tune (OptunaSearch) vs Ray tasks (our ask/tell loop) ({facts['date']}, {facts['cores']} "
              f"cores, {facts['cpu']})", "",
              f"Ray {facts['ray']}, Optuna {facts['optuna']}, torch {facts['torch']}, Python {facts['python']}, "
              f"{facts['platform']}; local Ray of {args.cpus} CPUs; load average at the start "
              + " / ".join(f"{x:.1f}" for x in facts["load_avg"]), "",
              f"Search: {', '.join(spaces)}; budget {args.budget}, seed {args.seed}, multi-objective TPE (score max, "
              f"latency_ms min), synflow, shipped device profile; median of {args.repeats} repeats "
              f"(order rotated each repeat).", "", "### Medians", ""]
    report += summary_rows(summary, ways)
    report += ["", ("overhead = (wall - sum of the evaluate() calls' own durations / cores) / evaluations: the wall "
                    "time per evaluation not explained by evaluating on every core. wall: from the start (object "
                    "store puts included) to the last result; first result: the loop's first batch, Tune's first "
                    "trial; steady: the later evaluations over the later seconds. Task workers are warmed before "
                    "each tasks run (untimed; Tune's actors start within its run). tasks evaluate in batches of 8 "
                    "(the loop's), Tune one trial per free core; tune: a fresh actor per trial (Tune's default), "
                    "tune_reuse: reuse_actors=True."), "", "### Every run", ""]
    report += run_rows(runs)
    report += ["", f"Total {total:.0f} s. Command: `{command}`"]
    print("\n" + "\n".join(report), flush=True)
    h.save(args.out, {"args": {**vars(args), "out": str(args.out)}, "command": command, "machine": facts,
                      "summary": summary, "runs": runs, "total_s": total}, report)
    h.publish(args, "ray_tune_vs_tasks", "Ray tasks or Ray Tune", "\n".join(report[2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
