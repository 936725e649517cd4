"""The truth check: a search's front scored with NAS-Bench-201's true accuracy and true device latency.

For each device of HELP's NAS-Bench-201 latencies named in ``--devices`` (by default the four that
HW-NAS-Bench measured too, and two GPUs), as a user would:

1. register the device from ``--measured`` cells: the cells ``nas kit --n 20 --seed 0`` picks, "timed"
   by the device's true latencies, fitted with ``nas.latency.fit_profile`` (the device's own family,
   all its batch sizes, left out of the fit's bank of reference devices: a device is never its own
   reference);
2. run a ``--budget``-candidate search with the default strategy and objective (real CIFAR-10 images,
   zero training) on the fitted profile;
3. score the front it returns with each member's true CIFAR-10 test accuracy (200 epochs, seed mean)
   and true latency: its hypervolume as a share of the true Pareto front's over all 15,625 cells, the
   reference point being the true front's worst accuracy and worst latency; and how many of the true
   front's cells it holds.

Beside it, at the same budget: random search on the fitted profile; the default search on the
default device (what a user gets without registering the device; one search, scored on each device);
and two diagnostics, the same search told one truth: the device's true latency in place of the fitted
profile's ("true latency"), or the true accuracy in place of the proxy ("true accuracy"). What each
gains over "fitted" is what that estimate costs the front.
Each figure is the mean over ``--seeds`` searches. Proxy scores are deterministic, so every run
shares one cache of them by cell; latency is predicted per profile.

    .venv/bin/python bench/nb201_truth.py [--devices pixel3,raspi4] [--budget 300] [--seeds 3] [--quick] [--write]
"""

from __future__ import annotations

from pathlib import Path

import _harness as h
import help_latency
import nb201_proxies
import numpy as np

import nas.proxies as proxies
import searchspaces
from nas.errors import InvalidField
from nas.evaluate import COUNTS, ProxyConfig, evaluate, load_data
from nas.latency import default_profile, fit_profile
from nas.latency.kit import choose_networks
from nas.latency.shipped import reference_table
from nas.search import DEFAULT_STRATEGY, STRATEGIES, Search, SearchConfig
from nas.search.pareto import hypervolume, pareto_mask

DEVICES = ("pixel3", "raspi4", "fpga", "eyeriss", "titan_rtx_1", "1080ti_256")
WAYS = ("fitted", "random", "default device", "true latency", "true accuracy", "true both")


class Truth:
    """The true CIFAR-10 accuracy and latency of every cell on one device, and its true front."""

    def __init__(self, archs: list[str], accuracy: dict[str, float], latency: np.ndarray) -> None:
        self.accuracy = dict(zip(archs, (accuracy[a] for a in archs)))
        self.latency = dict(zip(archs, latency))
        points = self.points(archs)
        mask = pareto_mask(points)
        self.front = {a for a, keep in zip(archs, mask) if keep}
        self.reference = points[mask].max(axis=0)  # worst accuracy and worst latency on the true front
        self.volume = hypervolume(points[mask], self.reference)

    def points(self, archs) -> np.ndarray:
        """(-accuracy, latency): both minimised."""
        return np.array([(-self.accuracy[a], self.latency[a]) for a in archs], dtype=np.float64).reshape(-1, 2)

    def score(self, found: list[str]) -> tuple[float, int]:
        """The share of the true front's hypervolume that ``found`` dominates, and its true-front cells."""
        share = hypervolume(self.points(found), self.reference) / self.volume if found else 0.0
        return share, len(self.front.intersection(found))


class CachedEvaluator:
    """``nas.evaluate`` on one profile, the proxy scores shared by cell across every profile. With
    ``oracle``, the search reads truth instead of its estimate: "latency" (the device's true
    latency in place of the profile's prediction), "accuracy" (the true accuracy as every proxy's
    score) or "both", to tell how much of a front's loss each estimate, or the search itself, causes."""

    def __init__(self, space, proxy: ProxyConfig, data, scores: dict[str, dict]) -> None:
        self.space, self.proxy, self.data, self.scores = space, proxy, data, scores
        self.counts: dict[str, dict] = {}

    def on(self, profile, truth: Truth | None = None, oracle: str | None = None):
        def run(archs):
            out = []
            for arch in archs:
                key = self.space.encode(arch)
                scores = self.scores.get(key)
                told_accuracy = oracle in ("accuracy", "both")
                if told_accuracy:
                    scores = {**self.counted(arch, key), **{name: truth.accuracy[key] for name in self.proxy.proxies}}
                latency_ms = truth.latency[key] if oracle in ("latency", "both") else None
                metrics = evaluate(arch, self.space, self.proxy, self.data, profile, scores=scores,
                                   latency_ms=latency_ms)
                if not told_accuracy:
                    self.scores[key] = metrics.scores
                out.append(metrics)
            return out

        return run

    def counted(self, arch, key: str) -> dict:
        """The parameter and multiply-add counts alone (what an oracle-accuracy candidate still needs)."""
        if key in self.scores:
            return {name: self.scores[key][name] for name in COUNTS}
        if key not in self.counts:
            build = lambda: self.space.build(arch, num_classes=10)  # noqa: E731
            self.counts[key] = proxies.compute(build, self.data.inputs[:1], None, list(COUNTS))
        return self.counts[key]


def front_of(strategy: str, budget: int, seed: int, evaluator, proxy: ProxyConfig) -> list[str]:
    search = Search(SearchConfig("nasbench201", strategy=strategy, budget=budget, seed=seed, proxy=proxy))
    search.run(evaluator)
    return [candidate.metrics.arch for candidate in search.front()]


def main() -> None:
    parser = h.parser(__doc__, quick={"devices": "pixel3", "budget": 40, "seeds": 1})
    parser.add_argument("--devices", default=",".join(DEVICES))
    parser.add_argument("--budget", type=int, default=300, help="candidates per search")
    parser.add_argument("--seeds", type=int, default=3, help="searches per way and device (seeds 0..N-1)")
    parser.add_argument("--measured", type=int, default=20, help="cells `nas kit` picks for the fit")
    parser.add_argument("--latency", type=Path, default=help_latency.DEFAULT_LATENCY)
    parser.add_argument("--accuracy", type=Path, default=nb201_proxies.DEFAULT_ACCURACY)
    parser.add_argument("--proxies", help="the objective's proxies, comma-separated (default: the search's)")
    parser.add_argument("--ensemble", action="store_true", help="rank the --proxies by the search's ensemble")
    parser.add_argument("--strategies", default=DEFAULT_STRATEGY,
                        help=f"strategies of every way but random, comma-separated (default {DEFAULT_STRATEGY})")
    parser.add_argument("--ways", default=",".join(WAYS), help=f"which of {', '.join(WAYS)} to run")
    parser.add_argument("--section", default="nb201_truth", help="the docs section --write fills")
    args = parser.parse_args()
    if not args.accuracy.exists():
        parser.error(f"--accuracy: {args.accuracy} does not exist")
    known, archs, latency = help_latency.load(args.latency)
    devices = h.names(parser, args.devices, known, "--devices")
    strategies = h.names(parser, args.strategies, STRATEGIES, "--strategies")
    columns = plan(h.names(parser, args.ways, WAYS, "--ways"), strategies)
    accuracy = {arch: row["cifar10"] for arch, row in nb201_proxies.load_accuracy(args.accuracy).items()}
    space = searchspaces.get("nasbench201")
    try:
        proxy = ProxyConfig(tuple(args.proxies.split(",")), args.ensemble) if args.proxies else ProxyConfig()
    except InvalidField as error:
        parser.error(f"--{error.field}: {error.message}")
    default = default_profile("nasbench201")
    cached = CachedEvaluator(space, proxy, load_data(proxy, space, default.num_classes), {})
    kit = choose_networks(space, reference_table("nasbench201"), args.measured, seed=0)
    where = {arch: i for i, arch in enumerate(archs)}
    timer = h.Timer()
    searches = lambda strategy, evaluator: [front_of(strategy, args.budget, seed, evaluator, proxy)  # noqa: E731
                                            for seed in range(args.seeds)]
    plain = {label: searches(strategy, cached.on(default)) for label, (strategy, oracle) in columns.items()
             if oracle == "default device"}
    if plain:
        print(f"default device ({default.device.name}): {args.seeds} searches per strategy ({timer.seconds:.0f} s)",
              flush=True)
    rows = []
    for device in devices:
        column = known.index(device)
        truth = Truth(archs, accuracy, latency[:, column])
        profile = fit_profile("nasbench201", [(a, latency[where[a], column]) for a in kit],
                              device=device.replace("_", "-"), bank_exclude={help_latency.family(device)})
        fronts = {label: plain[label] if oracle == "default device" else
                  searches(strategy, cached.on(profile, truth, oracle))
                  for label, (strategy, oracle) in columns.items()}
        row = {"device": device, "true_front": len(truth.front)}
        for label, found in fronts.items():
            scored = np.array([truth.score(front) for front in found])
            row[label] = (scored[:, 0].mean(), scored[:, 0].min(), scored[:, 1].mean())
        rows.append(row)
        print(f"{device}: " + "; ".join(f"{label} {row[label][0]:.3f} (worst {row[label][1]:.3f}), "
                                        f"{row[label][2]:.1f}/{len(truth.front)} true-front cells" for label in columns)
              + f" ({timer.seconds:.0f} s, {len(cached.scores)} cells scored)", flush=True)
    text = table(rows, list(columns))
    print("\n" + text)
    note = describe(args, strategies, list(columns), proxy, default.device.name)
    title = "Truth check: searched fronts on real devices (NAS-Bench-201)"
    if list(columns) != list(WAYS):
        title += f": {args.ways}, by strategy"
    h.publish(args, args.section, title, note + "\n\n" + text)


def describe(args, strategies: list[str], labels: list[str], proxy: ProxyConfig, default_device: str) -> str:
    """The section's note: the command that made the table, and how to read it."""
    flags = f" --proxies {args.proxies}" + (" --ensemble" if args.ensemble else "") if args.proxies else ""
    flags += f" --strategies {args.strategies}" if strategies != [DEFAULT_STRATEGY] else ""
    flags += f' --ways "{args.ways}"' if labels != list(WAYS) else ""
    command = f"bench/nb201_truth.py --budget {args.budget} --seeds {args.seeds} --measured {args.measured}{flags}"
    note = (f"`{command}`: per device, registered from the {args.measured} cells `nas kit` picks (their "
            "true latencies; the device's family left out of the fit's bank), then "
            f"{args.budget}-candidate searches ({', '.join(strategies)}; the default is {DEFAULT_STRATEGY}) with "
            f"the objective {objective(proxy)} (real CIFAR-10 images, no training), seeds 0..{args.seeds - 1}. "
            "Each front is scored with the cells' true CIFAR-10 test accuracy and true latency: its hypervolume "
            "as a share of the true front's over all 15,625 cells (reference point: the true front's worst "
            "accuracy and worst latency); each cell of the table: its mean (worst) over the seeds; the "
            f"true-front cells it holds. \"Default device\": the same search on the default profile "
            f"({default_device}), what a user gets without registering the device. \"True latency\", "
            "\"true accuracy\" and \"true both\": the same search told the device's true latency instead of the "
            "fitted profile's, the true accuracy instead of the proxy, or both: what each estimate costs, and "
            "what the search itself loses at this budget.")
    return note


def plan(ways: list[str], strategies: list[str]) -> dict[str, tuple[str, str | None]]:
    """The table's columns: a label for each way and strategy, with the strategy and what the search is
    told (None: its estimates; "default device": the default profile; else the oracle)."""
    told = {"fitted": None, "default device": "default device", "true latency": "latency",
            "true accuracy": "accuracy", "true both": "both"}
    columns = {}
    for way in ways:
        if way == "random":
            columns[way] = ("random", None)
            continue
        for strategy in strategies:
            columns[way if len(strategies) == 1 else f"{way}, {strategy}"] = (strategy, told[way])
    return columns


def objective(proxy: ProxyConfig) -> str:
    named = ", ".join(proxy.proxies)
    return f"the log-rank ensemble of {named}" if proxy.ensemble else named


def table(rows: list[dict], labels: list[str]) -> str:
    bold = lambda label, text: f"**{text}**" if label.startswith("fitted") else text  # noqa: E731
    cells = [[row["device"], str(row["true_front"]),
              *(f"{bold(label, f'{row[label][0]:.3f}')} ({row[label][1]:.3f}); {row[label][2]:.1f}"
                for label in labels)]
             for row in rows]
    cells.append(["mean", "", *(f"{np.mean([row[label][0] for row in rows]):.3f}" for label in labels)])
    return "\n".join(h.table(["device", "true front (cells)", *labels], cells))


if __name__ == "__main__":
    main()
