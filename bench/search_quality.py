"""Search quality: the hypervolume each strategy reaches at a fixed budget, against random search.

For each space and strategy, ``--seeds`` searches of ``--budget`` unique candidates each, with the
default proxy (synflow) and one latency constraint per space: the ``--latency-quantile`` of the
predicted latency of 500 random candidates (fixed seed), so about half of a uniform sample is feasible.

Hypervolume is recomputed here rather than read from ``Search.history``, which each search
normalises by its own first batch. For a space, every feasible candidate of every run sets one
normalisation for all of them: objectives (-score, latency_ms), both minimised; ideal = the minimum
of each; nadir = the largest -score among them and the latency budget; reference point 1 in both.
Each run's curve is that hypervolume over its first k evaluations, k = 8, 16, ... and at the end.

Printed per space: the mean final hypervolume +- std over seeds, its ratio to random search's, the
evaluations a strategy needs to reach random search's mean final hypervolume (median over seeds,
with how many seeds got there), the mean front size and the share of feasible candidates. Then the
recommended default: the best mean rank of final hypervolume across spaces, ties broken by the
evaluations needed to reach random's. Last, evaluations per second of the whole loop (strategy,
evaluation, bookkeeping): a fresh search of 48 candidates (`--timing-budget`) per space with the default strategy, in
one process with torch on 1 and on 2 threads, and in 2 worker processes of 1 thread each (what
``nas search`` runs on this machine), after the pool has finished.

Evaluation is deterministic (the same arch gives the same metrics), so the pool's runs of a space
share one cache of metrics keyed by arch hash (a ``multiprocessing`` manager's dict): an architecture
that several strategies or seeds propose is evaluated once. Each search still counts its own unique
candidates, so the figures are those of uncached runs; only the runs' wall times are shorter (the
cache hits are recorded per run). The timing runs use no cache.

    .venv/bin/python bench/search_quality.py [--spaces nasbench201,mobilenetv3] [--strategies random,tpe] \
        [--seeds 5] [--budget 100] [--budget-override metaformer=60] [--workers 2] [--quick] [--write]

Raw results (every run's candidates, curve and wall time, and the summary) go to ``--out``; the
printed tables to the same path with ``.md``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import cache
from pathlib import Path

import _harness as h
import numpy as np

import searchspaces
from nas.evaluate import ProxyConfig, load_data
from nas.latency import default_profile, predict_many
from nas.proxies.common import FLOOR
from nas.search import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    Constraints,
    Search,
    SearchConfig,
    local_evaluator,
)
from nas.search.pareto import hypervolume

LATENCY_SAMPLE, LATENCY_SEED = 500, 12345
BATCH = 8
TIMING_BUDGET = 48


def latency_budget(space_name: str, quantile: float) -> float:
    space, profile = searchspaces.get(space_name), default_profile(space_name)
    rng = random.Random(LATENCY_SEED)
    archs = [space.sample(rng) for _ in range(LATENCY_SAMPLE)]
    return float(np.quantile(predict_many(profile, archs, space), quantile))


@cache
def plain_evaluator(space_name: str):
    space, profile, proxy = searchspaces.get(space_name), default_profile(space_name), ProxyConfig()
    return local_evaluator(space, proxy, load_data(proxy, space, profile.num_classes), profile)


def cached_evaluator(space_name: str, cache, counts: dict):
    """The plain evaluator behind ``cache`` (arch hash -> Metrics), shared by the space's runs."""
    space, evaluate = searchspaces.get(space_name), plain_evaluator(space_name)

    def run(archs):
        hashes = [space.arch_hash(a) for a in archs]
        known = {h: cache.get(h) for h in hashes}
        missing = [(h, a) for h, a in zip(hashes, archs) if known[h] is None]
        if missing:
            for (h, _), metrics in zip(missing, evaluate([a for _, a in missing])):
                cache[h] = known[h] = metrics
        counts["hits"] += len(archs) - len(missing)
        return [known[h] for h in hashes]

    return run


def config_for(space_name: str, strategy: str, budget: int, seed: int, budget_ms: float) -> SearchConfig:
    return SearchConfig(space_name, strategy=strategy, budget=budget, seed=seed, batch_size=BATCH,
                        constraints=Constraints(latency_ms=budget_ms))


def one_run(space_name: str, strategy: str, seed: int, budget: int, budget_ms: float, cache) -> dict:
    """A pool task: one search; its candidates as plain rows."""
    import torch

    torch.set_num_threads(1)
    counts = {"hits": 0}
    with h.Timer() as timer:
        search = Search(config_for(space_name, strategy, budget, seed, budget_ms))
        search.run(cached_evaluator(space_name, cache, counts))
    return {
        "space": space_name, "strategy": strategy, "seed": seed, "budget": budget,
        "latency_budget_ms": budget_ms, "wall_s": timer.seconds,
        "cache_hits": counts["hits"], "front_size": len(search.front()),
        "candidates": [
            {"arch_hash": c.metrics.arch_hash, "latency_ms": c.metrics.latency_ms, "score": c.score,
             "feasible": c.feasible, "params": c.metrics.params, "macs": c.metrics.macs}
            for c in search.candidates
        ],
    }


# -- hypervolume on one normalisation per space ---------------------------------------------------
def points_of(candidates: list[dict]) -> np.ndarray:
    rows = [(-c["score"], c["latency_ms"]) for c in candidates if c["feasible"]]
    return np.array(rows, dtype=np.float64).reshape(len(rows), 2)


def normalisation(runs: list[dict], budget_ms: float) -> tuple[np.ndarray, np.ndarray]:
    # Candidates a proxy cannot score (a NAS-Bench-201 cell with no path to the output) get the
    # floor, -1e30: as the nadir it would squash every real score to 0, so the nadir is the worst
    # real score and floored candidates fall beyond the reference point, adding nothing.
    every = points_of([c for run in runs for c in run["candidates"] if c["score"] > FLOOR])
    if len(every) == 0:
        return np.zeros(2), np.ones(2)
    ideal = every.min(axis=0)
    nadir = np.array([every[:, 0].max(), budget_ms])
    span = nadir - ideal
    span[span <= 0] = 1.0
    return ideal, span


def hv_curve(candidates: list[dict], ideal: np.ndarray, span: np.ndarray) -> list[tuple[int, float]]:
    n = len(candidates)
    ks = list(range(BATCH, n + 1, BATCH))
    if not ks or ks[-1] != n:
        ks.append(n)
    curve = []
    for k in ks:
        points = points_of(candidates[:k])
        hv = hypervolume((points - ideal) / span, np.ones(2)) if len(points) else 0.0
        curve.append((k, hv))
    return curve


def evals_to_reach(curve: list[tuple[int, float]], target: float) -> float:
    return next((float(k) for k, hv in curve if hv >= target), float("inf"))


def summarise_space(space_name: str, runs: list[dict], strategies: list[str], budget: int) -> dict:
    budget_ms = runs[0]["latency_budget_ms"]
    ideal, span = normalisation(runs, budget_ms)
    for run in runs:
        run["hv_curve"] = hv_curve(run["candidates"], ideal, span)
        run["final_hv"] = run["hv_curve"][-1][1]
    final = {s: np.array([r["final_hv"] for r in runs if r["strategy"] == s]) for s in strategies}
    target = float(final["random"].mean()) if "random" in final else None
    rows = {}
    for s in strategies:
        mine = [r for r in runs if r["strategy"] == s]
        reach = [evals_to_reach(r["hv_curve"], target) for r in mine] if target is not None else []
        rows[s] = {
            "final_hv_mean": float(final[s].mean()), "final_hv_std": float(final[s].std(ddof=1)) if len(mine) > 1 else 0.0,
            "ratio_to_random": float(final[s].mean() / target) if target else None,
            "evals_to_random_median": float(np.median(reach)) if reach else None,
            "reached": int(np.isfinite(reach).sum()), "seeds": len(mine),
            "front_size_mean": float(np.mean([r["front_size"] for r in mine])),
            "feasible_share": float(np.mean([c["feasible"] for r in mine for c in r["candidates"]])),
            "wall_s_total": float(sum(r["wall_s"] for r in mine)),
            "cache_hits": int(sum(r["cache_hits"] for r in mine)),
        }
    return {"space": space_name, "budget": budget, "latency_budget_ms": budget_ms, "ideal": ideal.tolist(),
            "span": span.tolist(), "random_final_hv_mean": target, "strategies": rows}


def space_table(summary: dict) -> list[str]:
    b = summary["budget"]
    lines = [(f"### {summary['space']}: budget {b}, latency <= {summary['latency_budget_ms']:.2f} ms, "
              f"random's mean final HV {summary['random_final_hv_mean']:.4f}"), "",
             ("| strategy | final HV (mean ± std) | ratio to random | evals to random's HV (median; seeds) "
              "| mean front size | feasible share |"),
             "|---|---|---|---|---|---|"]
    for s, row in summary["strategies"].items():
        med = row["evals_to_random_median"]
        reach = "-" if med is None else (f">{b}" if not np.isfinite(med) else f"{med:.0f}")
        ratio = "-" if row["ratio_to_random"] is None else f"{row['ratio_to_random']:.3f}"
        lines.append(f"| {s} | {row['final_hv_mean']:.4f} ± {row['final_hv_std']:.4f} | {ratio} | "
                     f"{reach} ({row['reached']}/{row['seeds']}) | {row['front_size_mean']:.1f} | "
                     f"{row['feasible_share']:.2f} |")
    return lines


def recommend(summaries: list[dict], strategies: list[str]) -> tuple[str, list[str]]:
    """Best mean rank of mean final HV across spaces; ties broken by the mean evaluations to reach
    random's HV (not reached counts as budget + one batch)."""
    ranks = {s: [] for s in strategies}
    reach = {s: [] for s in strategies}
    for summary in summaries:
        rows = summary["strategies"]
        for s in strategies:
            mean = rows[s]["final_hv_mean"]
            better = sum(rows[o]["final_hv_mean"] > mean for o in strategies)
            ties = sum(rows[o]["final_hv_mean"] == mean for o in strategies) - 1
            ranks[s].append(1 + better + 0.5 * ties)
            med = rows[s]["evals_to_random_median"]
            reach[s].append(summary["budget"] + BATCH if med is None or not np.isfinite(med) else med)
    order = sorted(strategies, key=lambda s: (np.mean(ranks[s]), np.mean(reach[s])))
    lines = [("| strategy | mean rank | ranks per space | HV ratio to random per space | "
              "evals to random's HV per space |"), "|---|---|---|---|---|"]
    for s in order:
        ratios = "/".join("-" if x["strategies"][s]["ratio_to_random"] is None
                          else f"{x['strategies'][s]['ratio_to_random']:.3f}" for x in summaries)
        evals = "/".join(f"{e:.0f}" if e <= x["budget"] else f">{x['budget']}" for e, x in zip(reach[s], summaries))
        lines.append(f"| {s} | {np.mean(ranks[s]):.2f} | {'/'.join(f'{r:g}' for r in ranks[s])} | "
                     f"{ratios} | {evals} |")
    return order[0], lines


# -- evaluations per second, in this process ------------------------------------------------------
# (worker processes, torch threads in each): one process with one or two threads, and what
# ``nas search`` runs by default on this machine: one process per core, one thread each.
SETUPS = ((1, 1), (1, 2), (2, 1))


def time_loop(space_name: str, budget_ms: float, workers: int, threads: int, budget: int) -> dict:
    space, profile, proxy = searchspaces.get(space_name), default_profile(space_name), ProxyConfig()
    data = load_data(proxy, space, profile.num_classes)
    with local_evaluator(space, proxy, data, profile, workers=workers, threads=threads) as evaluate:
        rng = random.Random(LATENCY_SEED)
        evaluate([space.sample(rng) for _ in range(workers)])  # warm-up (and worker start), untimed
        load = os.getloadavg()[0]  # anything else running shows here: 2 threads suffer most from it
        config = config_for(space_name, DEFAULT_STRATEGY, budget, 0, budget_ms)
        seconds, search = h.timed(lambda: Search(config).run(evaluate))
    return {"space": space_name, "workers": workers, "threads": threads, "evaluated": search.evaluated,
            "seconds": seconds, "evals_per_s": search.evaluated / seconds, "load_before": load}


def parse_overrides(text: str) -> dict[str, int]:
    out = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        searchspaces.get(name)
        out[name] = int(value)
    return out


def run_pool(tasks: list[tuple[str, str, int]], budgets: dict, budget_ms: dict, workers: int,
             timer: h.Timer) -> list[dict]:
    runs: list[dict] = []
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        caches = {sp: manager.dict() for sp in budgets}
        futures = [pool.submit(one_run, sp, st, seed, budgets[sp], budget_ms[sp], caches[sp]) for sp, st, seed in tasks]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            runs.append(run)
            print(f"[{done}/{len(tasks)} {timer.seconds:6.0f} s] {run['space']:<13} "
                  f"{run['strategy']:<10} seed {run['seed']}  {run['wall_s']:6.1f} s  "
                  f"({run['cache_hits']} cache hits)", flush=True)
    return runs


def timing_table(timing: list[dict], spaces: list[str]) -> list[str]:
    names = [f"{w} process{'es' if w > 1 else ''} x {n} thread{'s' if n > 1 else ''}" for w, n in SETUPS]
    lines = [(f"### Evaluations per second of the whole loop ({DEFAULT_STRATEGY}, {timing[0]['evaluated']} "
              "candidates, no cache)"), "",
             "| space | " + " | ".join(f"{name}: evals/s" for name in names)
             + " | ratio to 1 x 1 (baseline) | load avg before |",
             "|---|" + "---|" * (len(SETUPS) + 2)]
    for sp in spaces:
        rows = [next(t for t in timing if t["space"] == sp and (t.get("workers", 1), t["threads"]) == setup)
                for setup in SETUPS]
        base = rows[0]["evals_per_s"]
        lines.append(f"| {sp} | " + " | ".join(f"{r['evals_per_s']:.2f}" for r in rows) + " | "
                     + " / ".join(f"{r['evals_per_s'] / base:.2f}" for r in rows) + " | "
                     + " / ".join(f"{r['load_before']:.1f}" for r in rows) + " |")
    return lines


def main() -> None:
    parser = h.parser(__doc__, quick={"spaces": "nasbench201", "strategies": "random,tpe", "seeds": 1, "budget": 16,
                                      "workers": 1, "timing_budget": 8})
    parser.add_argument("--spaces", default="nasbench201,mobilenetv3,shufflenetv2,metaformer")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--budget-override", default="", help="per-space budgets, e.g. metaformer=60")
    parser.add_argument("--latency-quantile", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timing-budget", type=int, default=TIMING_BUDGET, help="candidates of each timing search")
    parser.add_argument("--out", type=Path, default=h.RESULTS / "search_quality.json")
    parser.add_argument("--from-results", type=Path, default=None,
                        help="re-summarise the runs and timing of an earlier --out file; no new searches")
    parser.add_argument("--retime", action="store_true", help="with --from-results: measure the timing again")
    args = parser.parse_args()
    spaces, strategies = h.spaces(parser, args.spaces), h.names(parser, args.strategies, STRATEGIES, "--strategies")
    overrides = parse_overrides(args.budget_override)
    budgets = {s: overrides.get(s, args.budget) for s in spaces}
    timer = h.Timer()

    if args.from_results is not None:
        earlier = json.loads(args.from_results.read_text())
        runs = [r for r in earlier["runs"] if r["space"] in spaces and r["strategy"] in strategies]
        budgets = {s: earlier["budgets"][s] for s in spaces}
        budget_ms, timing = earlier["latency_budget_ms"], earlier["timing"]
        pool_s, timing_s = earlier["pool_s"], earlier["total_s"] - earlier["pool_s"]
    else:
        budget_ms = {s: latency_budget(s, args.latency_quantile) for s in spaces}
        print("latency budgets (ms): " + ", ".join(f"{s} {v:.2f}" for s, v in budget_ms.items()), flush=True)
        # The slowest spaces first, so the last tasks are short and the workers finish together.
        cost = {"metaformer": 4, "shufflenetv2": 3, "mobilenetv3": 2, "nasbench201": 1}
        tasks = sorted(((sp, st, seed) for sp in spaces for st in strategies for seed in range(args.seeds)),
                       key=lambda t: -cost.get(t[0], 0))
        runs = run_pool(tasks, budgets, budget_ms, args.workers, timer)
        pool_s = timer.seconds

    summaries = [summarise_space(sp, [r for r in runs if r["space"] == sp], strategies, budgets[sp]) for sp in spaces]
    seeds = len({r["seed"] for r in runs})
    report = [f"## Search quality: {seeds} seeds, strategies {', '.join(strategies)}, synflow, "
              f"latency budget = {args.latency_quantile} quantile of {LATENCY_SAMPLE} random candidates", ""]
    for summary in summaries:
        report += space_table(summary) + [""]
    if "random" in strategies:
        best, lines = recommend(summaries, strategies)
        report += ["### Ranking (mean final HV; spaces in order " + "/".join(spaces) + ")", ""] + lines + [""]
        report.append(f"Recommended default: **{best}** (best mean rank of final hypervolume across spaces; "
                      "ties broken by the evaluations needed to reach random search's final hypervolume).")
        report.append("")
    print("\n" + "\n".join(report), flush=True)

    if args.from_results is None or args.retime:
        print(f"timing the whole loop (fresh {DEFAULT_STRATEGY} search, no cache)...", flush=True)
        timing_s, timing = h.timed(lambda: [time_loop(sp, budget_ms[sp], w, n, args.timing_budget)
                                            for sp in spaces for w, n in SETUPS])
    lines = timing_table(timing, spaces)
    lines += ["", f"Searches: {pool_s:.0f} s on {args.workers} workers; timing: {timing_s:.0f} s."]
    print("\n".join(lines), flush=True)
    report += lines

    h.save(args.out, {
        "args": {**vars(args), "out": str(args.out), "from_results": str(args.from_results or "")},
        "budgets": budgets, "latency_budget_ms": budget_ms, "summaries": summaries, "timing": timing,
        "pool_s": pool_s, "total_s": pool_s + timing_s, "runs": runs,
    }, report)
    command = " ".join(["bench/search_quality.py", *sys.argv[1:]])
    h.publish(args, "search_quality", "Search quality",
              f"`{command}`: " + report[0].removeprefix("## Search quality: ") + ".\n\n" + "\n".join(report[2:]))


if __name__ == "__main__":
    main()
