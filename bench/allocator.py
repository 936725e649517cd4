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

    .venv/bin/python bench/allocator.py [--spaces nasbench201,mobilenetv3,shufflenetv2,metaformer] [--n 10] \
        [--quick] [--write]

Writes bench/results/allocator.json; ``--write`` puts the table into docs/benchmarks.md.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import _harness as h
import numpy as np

import searchspaces

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
    parser = h.parser(__doc__, seed=11, quick={"spaces": "nasbench201", "n": 2, "calls": ROUNDS})
    parser.add_argument("--spaces", default="nasbench201,mobilenetv3,shufflenetv2,metaformer")
    parser.add_argument("--n", type=int, default=10, help="networks per space")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per network, over 3 rounds")
    parser.add_argument("--out", type=Path, default=h.RESULTS / "allocator.json")
    args = parser.parse_args()
    if args.n < 1 or args.calls < ROUNDS:
        parser.error(f"--n must be at least 1 and --calls at least {ROUNDS}")
    spaces = h.spaces(parser, args.spaces)

    timer = h.Timer()
    report = {"n": args.n, "calls": args.calls, "seed": args.seed, "spaces": {}}
    header = ("space", "heap", "networks faulting", "faults per call", "faulting decided by the order",
              "networks over 1000 faults per call", "their time, default / steady heap: median", "max")
    lines = h.table(header, [])
    print("\n".join(lines))
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
            row = result[heap]
            tail = (f"{heavy['count']} | {_ratio(heavy['slowdown_median'])} | {_ratio(heavy['slowdown_max'])}"
                    if heap == "default" else "| |")
            lines.append(f"| {name} | {heap} | {row['share_faulting']:.0%} | {row['mean_faults_per_call']:.0f} | "
                         f"{row['order_decides']} of {args.n} | {tail} |")
            print(lines[-1], flush=True)
    report["seconds"] = round(timer.stop(), 1)
    print(f"\n{report['seconds']:.0f} s")
    h.save(args.out, report)
    h.publish(args, "allocator", "The C heap: glibc's defaults against the steady heap the profiler pins",
              f"`bench/allocator.py --n {args.n} --calls {args.calls} --seed {args.seed}`: {args.n} random networks "
              "per space timed in fresh processes under each heap, in two orders (PyTorch eager, 1 thread, the "
              "minimum of the calls in 3 interleaved rounds). Faulting: over 100 minor page faults per timed call; "
              "the time ratio is taken over the networks with over 1,000, divided by that of the networks that "
              "fault under neither heap (the machine's drift between the two processes taken out).\n\n"
              + "\n".join(lines))


if __name__ == "__main__":
    main()
