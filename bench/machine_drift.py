"""How steady is this machine's speed over time: the limit it sets on any static latency table.

A profile is measured once; a search uses it later. If the device itself runs the same network 8%
slower an hour on, no table can predict it within +-10% every time. This bench times a fixed set of
random networks (PyTorch eager, 1 thread, batch 1, the minimum of ``--calls`` calls each, as
``nas profile`` times them) every ``--interval`` seconds for ``--minutes`` minutes, and prints:

- per tick, the machine's speed factor: the median over the networks of (this tick's time / the
  network's median time over all ticks); 1.10 means everything ran 10% slower than usual;
- the spread of that factor over the run (min, 5th, 50th, 95th percentile, max);
- the ceiling for a static table: over every pair of ticks (a "profile" moment, then a later "use"
  moment), the share of the networks timed at the later tick that are within +-10% of what they were
  at the earlier one. A perfect table measured at the first moment can do no better at the second;
- what moves with it: each tick also times two probes, a memory-bound one (copying a 64 MiB array,
  far larger than the caches) and a compute-bound one (a 256x256 matrix product that stays in cache),
  and the bench prints how each space's speed factor correlates with each probe's. Other tenants of
  a cloud host share its memory bandwidth and last-level cache, not this VM's cores.

    .venv/bin/python bench/machine_drift.py [--minutes 20] [--interval 30] [--spaces nasbench201,mobilenetv3,metaformer]
                                            [--out bench/results/machine_drift.json] [--quick] [--write]

Run it on a quiet machine (anything else running shows up as drift); it writes the summary, with
every tick's timings and the host CPU, to ``--out``.
"""

from __future__ import annotations

import time
from pathlib import Path

import _harness as h
import numpy as np
import torch

import searchspaces
from nas.latency.measure import Runner, sample_calls
from nas.latency.profiler import measure_networks, sample_networks
from nas.latency.shipped import host_cpu


def steal_ticks() -> int | None:
    """Jiffies the hypervisor gave to other guests (the 8th field of /proc/stat's cpu line)."""
    try:
        with open("/proc/stat") as stat:
            return int(stat.readline().split()[8])
    except (OSError, IndexError, ValueError):
        return None


def probe_ms(calls: int = 20) -> dict[str, float]:
    """The minimum time of a memory-bound and of a compute-bound probe, in ms."""
    src, dst = np.ones(16 * 2**20, np.float32), np.empty(16 * 2**20, np.float32)
    a = torch.randn(256, 256)
    return {
        "memory": min(sample_calls(lambda: np.copyto(dst, src), 1, calls)),
        "compute": min(sample_calls(lambda: a @ a, 1, calls)),
    }


def correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    return None if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0 else float(np.corrcoef(x, y)[0, 1])


def main() -> None:
    parser = h.parser(__doc__, seed=7, quick={"minutes": 0.1, "interval": 2.0, "spaces": "nasbench201", "n": 2,
                                             "calls": 3})
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds from one tick's start to the next")
    parser.add_argument("--spaces", default="nasbench201,mobilenetv3,metaformer")
    parser.add_argument("--n", type=int, default=6, help="networks per space")
    parser.add_argument("--calls", type=int, default=30, help="timed calls per network per tick (minimum kept)")
    parser.add_argument("--out", type=Path, default=h.RESULTS / "machine_drift.json",
                        help="where the JSON summary goes")
    args = parser.parse_args()
    if args.minutes <= 0 or args.interval <= 0 or args.n < 1 or args.calls < 1:
        parser.error("--minutes, --interval, --n and --calls must be positive")
    h.spaces(parser, args.spaces)
    cpu = host_cpu()
    print(f"host CPU: {cpu}", flush=True)

    runner = Runner("torch", threads=1, batch_size=1)
    sets = []
    for name in args.spaces.split(","):
        space = searchspaces.get(name)
        archs = sample_networks(space, args.n, space.resolutions, args.seed)
        sets.append((name, space, archs))
    started = time.time()
    ticks: list[dict] = []
    while time.time() - started < args.minutes * 60:
        tick_start, steal = time.time(), steal_ticks()
        times = []
        for _, space, archs in sets:
            classes = space.default_num_classes
            times += list(measure_networks(runner, space, archs, classes, 3, args.calls, 1, 5.0, "min"))
        after = steal_ticks()
        ticks.append({
            "t_s": round(tick_start - started, 1), "ms": times, "probes": probe_ms(),
            "steal_ticks": None if steal is None or after is None else after - steal,
        })
        first = np.array(ticks[0]["ms"])
        print(f"{ticks[-1]['t_s']:7.0f} s  speed vs first tick {np.median(np.array(times) / first):.3f}  "
              f"steal {ticks[-1]['steal_ticks']}", flush=True)
        time.sleep(max(0.0, args.interval - (time.time() - tick_start)))

    ms = np.array([t["ms"] for t in ticks])  # ticks x networks
    relative = ms / np.median(ms, axis=0)
    speed = np.median(relative, axis=1)
    probes = {k: np.array([t["probes"][k] for t in ticks]) for k in ("memory", "compute")}
    probe_speed = {k: v / np.median(v) for k, v in probes.items()}
    pairs = [(i, j) for i in range(len(ms)) for j in range(i + 1, len(ms))]

    def ceiling(cols: slice) -> list[float]:
        """Per pair of ticks, the share of these networks whose later time is within +-10% of the earlier one."""
        return [float((np.abs(ms[j, cols] / ms[i, cols] - 1.0) <= 0.10).mean()) for i, j in pairs]

    per_space, start = {}, 0
    for name, _, archs in sets:
        cols = slice(start, start + len(archs))
        factor = np.median(relative[:, cols], axis=1)
        start += len(archs)
        space_within = ceiling(cols)
        per_space[name] = {
            "speed_min": float(factor.min()), "speed_max": float(factor.max()),
            "static_ceiling_within_10pct": float(np.mean(space_within)) if space_within else None,
            **{f"corr_{k}": correlation(factor, v) for k, v in probe_speed.items()},
        }
    within = ceiling(slice(None))
    summary = {
        "ticks": len(ms), "minutes": round((ticks[-1]["t_s"]) / 60, 1), "networks": ms.shape[1],
        "spaces": args.spaces, "calls": args.calls, "cpu": cpu,
        "speed": {"min": float(speed.min()), "p5": float(np.percentile(speed, 5)),
                  "p50": float(np.median(speed)), "p95": float(np.percentile(speed, 95)), "max": float(speed.max())},
        "speed_within_5pct_of_median": float((np.abs(speed - 1.0) <= 0.05).mean()),
        "speed_within_10pct_of_median": float((np.abs(speed - 1.0) <= 0.10).mean()),
        "static_ceiling_within_10pct": float(np.mean(within)) if within else None,
        "static_ceiling_worst_pair": float(np.min(within)) if within else None,
        "per_space": per_space,
        "probes": {k: {"median_ms": float(np.median(v)), "speed_min": float(probe_speed[k].min()),
                       "speed_max": float(probe_speed[k].max())} for k, v in probes.items()},
        "series": [{"t_s": t["t_s"], "speed": float(s), "steal_ticks": t["steal_ticks"], "probes": t["probes"],
                    "ms": t["ms"]} for t, s in zip(ticks, speed)],
    }
    h.save(args.out, summary)
    s = summary["speed"]
    print(f"\n{summary['ticks']} ticks over {summary['minutes']} min, {summary['networks']} networks ({args.spaces})")
    print(f"speed factor: min {s['min']:.3f}  p5 {s['p5']:.3f}  median {s['p50']:.3f}  p95 {s['p95']:.3f}  "
          f"max {s['max']:.3f}")
    print(f"ticks within +-5% of the usual speed: {100 * summary['speed_within_5pct_of_median']:.0f}%, "
          f"+-10%: {100 * summary['speed_within_10pct_of_median']:.0f}%")
    for k, v in summary["probes"].items():
        print(f"{k} probe: median {v['median_ms']:.3f} ms, speed factor {v['speed_min']:.3f}-{v['speed_max']:.3f}")
    for name, row in per_space.items():
        corr = "  ".join(f"corr with {k} probe {'-' if row['corr_' + k] is None else format(row['corr_' + k], '+.2f')}"
                         for k in probes)
        ceiling_text = "-" if row["static_ceiling_within_10pct"] is None else \
            f"{100 * row['static_ceiling_within_10pct']:.1f}%"
        print(f"{name}: speed factor {row['speed_min']:.3f}-{row['speed_max']:.3f}  static ceiling {ceiling_text}  "
              f"{corr}")
    if within:
        print(f"a perfect table measured at one tick predicts a later tick within +-10%: "
              f"{100 * summary['static_ceiling_within_10pct']:.1f}% of networks on average over "
              f"{len(pairs)} pairs (worst pair {100 * summary['static_ceiling_worst_pair']:.0f}%)")
    h.publish(args, "machine_drift", "How steady is this machine", doc_section(args, summary))


def doc_section(args, summary: dict) -> str:
    """The run as docs/benchmarks.md shows it: the speed factor's spread, the static ceiling, the probes."""
    s, probes = summary["speed"], summary["probes"]

    def share(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    note = (f"`bench/machine_drift.py --minutes {args.minutes:g} --interval {args.interval:g} --spaces {args.spaces} "
            f"--n {args.n} --calls {args.calls}`: fixed random networks (PyTorch, 1 thread, the minimum of "
            f"{args.calls} calls each) timed every {args.interval:g} s for {summary['minutes']} minutes, with a "
            "memory-bound probe (copying 64 MiB) and a compute-bound one (a 256x256 matrix product). The speed "
            "factor is the median over the networks of time / that network's usual time; the static ceiling "
            "supposes a perfect table measured at one tick and used at a later one: the share of networks within "
            "+-10%, averaged over every pair of ticks.")
    lines = h.table(
        ("ticks", "networks", "speed factor: min / p5 / median / p95 / max", "static ceiling (worst pair)",
         "memory probe", "compute probe"),
        [(summary["ticks"], summary["networks"],
          " / ".join(f"{s[k]:.3f}" for k in ("min", "p5", "p50", "p95", "max")),
          f"**{share(summary['static_ceiling_within_10pct'])}** ({share(summary['static_ceiling_worst_pair'])})",
          f"{probes['memory']['speed_min']:.3f}-{probes['memory']['speed_max']:.3f}",
          f"{probes['compute']['speed_min']:.3f}-{probes['compute']['speed_max']:.3f}")])
    lines += ["", *h.table(
        ("space", "speed factor", "static ceiling", "correlation with the memory / compute probe"),
        [(name, f"{row['speed_min']:.3f}-{row['speed_max']:.3f}", share(row["static_ceiling_within_10pct"]),
          " / ".join(h.fmt(row[f"corr_{k}"], "+.2f") for k in ("memory", "compute")))
         for name, row in summary["per_space"].items()])]
    return note + "\n\n" + "\n".join(lines)


if __name__ == "__main__":
    main()
