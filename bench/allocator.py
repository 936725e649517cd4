"""The C heap and the timings: glibc's default thresholds against the steady heap the profiler pins.

By default glibc hands a large freed block back to the kernel and moves its thresholds with what the
process freed so far, so a network with large activations may fault in fresh pages on every call,
depending on what the process ran before it. ``nas.latency.measure.steady_allocator`` fixes both
thresholds. This bench times random networks of every space (PyTorch eager, 1 thread, batch 1, the
minimum of ``--calls`` calls in 3 interleaved rounds, as ``nas profile`` times them) in fresh
processes, under each heap setting and in two orders (forward, then the same networks reversed), and
prints per space and setting:

- the share of networks that fault in pages on their timed calls (over 100 minor faults per call),
  and the mean faults per call;
- how many networks fault in one order and not in the other: the process history decides, and a
  table cannot know it;
- for the networks over 1,000 faults per call, their time under the default heap over their time
  under the steady one, divided by the same ratio for the networks that fault under neither (the
  two processes run a minute apart, and this takes the machine's drift between them out).

    .venv/bin/python bench/allocator.py [--spaces nasbench201,mobilenetv3,shufflenetv2,metaformer] [--n 10]

Writes bench/results/allocator.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import searchspaces  # noqa: E402

RESULTS = ROOT / "bench" / "results"
ROUNDS = 3
WARMUP = 5
FAULTING = 100  # minor page faults per timed call above which a network counts as faulting
HEAVY = 1000  # ... and above which its slowdown is reported


def child(space_name: str, n: int, seed: int, calls: int, heap: str, order: str) -> dict:
    """Time ``n`` networks in this (fresh) process: minimum ms and faults per timed call, forward order."""
    from nas.latency import measure
    from nas.latency.profiler import sample_networks

    if heap == "default":
        measure._pinned.append(None)  # the bench's baseline: leave glibc's thresholds as they are
    runner = measure.Runner("torch", threads=1, batch_size=1)
    space = searchspaces.get(space_name)
    archs = sample_networks(space, n, space.resolutions, seed)
    index = list(range(n)) if order == "forward" else list(range(n))[::-1]
    calls_of = {}
    for i in index:
        size = space.resolution(archs[i])
        calls_of[i] = runner.prepare(space.build(archs[i]), (3, size, size))
    best = {i: float("inf") for i in index}
    faults = {i: 0 for i in index}
    per_round = -(-calls // ROUNDS)
    for _ in range(ROUNDS):
        for i in index:
            for _ in range(WARMUP):
                calls_of[i]()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            samples = measure.sample_calls(calls_of[i], 0, per_round)
            faults[i] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
            best[i] = min(best[i], min(samples))
    return {
        "allocator": runner.allocator,
        "ms": [best[i] for i in range(n)],
        "faults_per_call": [faults[i] / (per_round * ROUNDS) for i in range(n)],
    }


def run_child(space: str, n: int, seed: int, calls: int, heap: str, order: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", space, str(n), str(seed), str(calls), heap, order],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {space} {heap} {order} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: dict[tuple[str, str], dict]) -> dict:
    out: dict = {}
    for heap in ("default", "steady"):
        fwd, rev = runs[heap, "forward"], runs[heap, "reversed"]
        faults = np.array(fwd["faults_per_call"] + rev["faults_per_call"])
        faulting = np.array(fwd["faults_per_call"]) > FAULTING, np.array(rev["faults_per_call"]) > FAULTING
        out[heap] = {
            "allocator": fwd["allocator"],
            "share_faulting": float(np.mean(faults > FAULTING)),
            "mean_faults_per_call": float(faults.mean()),
            # a network that faults in one order and not in the other: the process history decides
            "order_decides": int(np.sum(faulting[0] != faulting[1])),
        }
    # Each pair of processes (default, then steady, same order) ran a minute apart; dividing by the
    # ratio of the networks that faulted in neither takes the machine's drift between them out.
    slowdowns = []
    for order in ("forward", "reversed"):
        default, steady = runs["default", order], runs["steady", order]
        ratio = np.array(default["ms"]) / np.array(steady["ms"])
        heavy = np.array(default["faults_per_call"]) > HEAVY
        quiet = (np.array(default["faults_per_call"]) <= FAULTING) & (np.array(steady["faults_per_call"]) <= FAULTING)
        base = float(np.median(ratio[quiet])) if quiet.any() else 1.0
        slowdowns += list(ratio[heavy] / base)
    out["heavy"] = {
        "count": len(slowdowns),
        "slowdown_median": float(np.median(slowdowns)) if slowdowns else None,
        "slowdown_max": float(np.max(slowdowns)) if slowdowns else None,
    }
    return out


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        space, n, seed, calls, heap, order = sys.argv[2:8]
        print(json.dumps(child(space, int(n), int(seed), int(calls), heap, order)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spaces", default="nasbench201,mobilenetv3,shufflenetv2,metaformer")
    parser.add_argument("--n", type=int, default=10, help="networks per space")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per network, over 3 rounds")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=RESULTS / "allocator.json")
    args = parser.parse_args()
    if args.n < 1 or args.calls < ROUNDS:
        parser.error(f"--n must be at least 1 and --calls at least {ROUNDS}")
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    for name in spaces:
        try:
            searchspaces.get(name)
        except searchspaces.UnknownSpaceError as err:
            parser.error(f"--spaces: {err}")

    started = time.time()
    report = {"n": args.n, "calls": args.calls, "seed": args.seed, "spaces": {}}
    header = ("space", "heap", "networks faulting", "faults per call", "faulting decided by the order",
              "networks over 1000 faults per call", "their time, default / steady heap: median", "max")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for name in spaces:
        runs = {}
        # the two settings alternate, so a drift of the machine falls on both alike
        for order in ("forward", "reversed"):
            for heap in ("default", "steady"):
                runs[heap, order] = run_child(name, args.n, args.seed, args.calls, heap, order)
        result = summary(runs)
        result["runs"] = {f"{heap}/{order}": run for (heap, order), run in runs.items()}
        report["spaces"][name] = result
        heavy = result["heavy"]
        for heap in ("default", "steady"):
            h = result[heap]
            tail = (f"{heavy['count']} | {_ratio(heavy['slowdown_median'])} | {_ratio(heavy['slowdown_max'])}"
                    if heap == "default" else "| |")
            print(f"| {name} | {heap} | {h['share_faulting']:.0%} | {h['mean_faults_per_call']:.0f} | "
                  f"{h['order_decides']} of {args.n} | {tail} |", flush=True)
    report["seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\n{report['seconds']:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
