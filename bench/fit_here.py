"""A profile fitted from 20 kit networks timed here, checked on 30 other networks timed in the same run.

    .venv/bin/python bench/fit_here.py [--spaces nasbench201,...] [--runtimes torch,onnxruntime] [--quick] [--write]

Per space and runtime: the kit's 20 networks (``nas kit``'s choice) and 30 random others are timed end to
end on this machine in the same interleaved rounds, so a drift of the machine's speed hits both alike.
``fit_profile`` fits on the kit's times; the 30 others judge it (share within +-10%, MAPE, Spearman),
beside the shipped table of this machine's class (``DEFAULT_DEVICE``'s, a torch table) on the same
networks. Judged within one run, this machine's drift over minutes cannot enter the figure.
"""

from __future__ import annotations

import _harness as h
import numpy as np

import searchspaces
from nas.latency import fit_profile, predict_many
from nas.latency.kit import choose_networks
from nas.latency.measure import Runner
from nas.latency.profiler import NETWORK_SECONDS, measure_networks, sample_networks
from nas.latency.shipped import DEFAULT_DEVICE, read_shipped
from nas.stats import spearman

KIT, CHECK = 20, 30


def judge(predicted: np.ndarray, measured: np.ndarray) -> tuple[float, float, float]:
    ape = np.abs(predicted / measured - 1.0)
    return float((ape <= 0.10).mean()), float(ape.mean()), spearman(predicted, measured)


def run_space(space_name: str, runtime: str, repeats: int, rounds: int) -> dict:
    space = searchspaces.get(space_name)
    shipped = read_shipped(DEFAULT_DEVICE, space_name)
    kit = choose_networks(space, shipped, KIT, seed=0)
    others = [space.encode(a) for a in sample_networks(space, CHECK, shipped.resolutions, seed=1, exclude=set(kit))]
    runner = Runner(runtime, shipped.device.threads, 1)
    timer = h.Timer()
    archs = [space.decode(a) for a in kit + others]
    measured = measure_networks(runner, space, archs, shipped.num_classes, 3, repeats, rounds, NETWORK_SECONDS,
                                shipped.measurement.statistic)
    fitted = fit_profile(space_name, list(zip(kit, measured[:KIT])), reference=shipped,
                         device={"name": f"here-{runtime}", "runtime": runtime})
    truth = measured[KIT:]
    return {"space": space_name, "runtime": runtime, "seconds": timer.seconds,
            "fitted": judge(predict_many(fitted, others), truth),
            "shipped": judge(predict_many(shipped, others), truth),
            "loo": fitted.validation.within_10pct, "median_ms": float(np.median(truth))}


def table(rows: list[dict]) -> str:
    lines = ["| space | runtime | fitted: within ±10% / MAPE / Spearman | shipped table: within ±10% / MAPE / "
             "Spearman | fit's own leave-one-out ±10% | median network |", "|---|---|---|---|---|---|"]
    for r in rows:
        f, s = r["fitted"], r["shipped"]
        lines.append(f"| {r['space']} | {r['runtime']} | **{f[0]:.0%}** / {f[1]:.1%} / {f[2]:.3f} | "
                     f"{s[0]:.0%} / {s[1]:.1%} / {s[2]:.3f} | {r['loo']:.0%} | {r['median_ms']:.2f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = h.parser(__doc__, quick={"spaces": "nasbench201", "runtimes": "torch", "repeats": 3, "rounds": 1})
    parser.add_argument("--spaces", default=",".join(searchspaces.names()))
    parser.add_argument("--runtimes", default="torch,onnxruntime")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per network, over all rounds")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved passes over the 50 networks")
    args = parser.parse_args()
    spaces = h.spaces(parser, args.spaces)
    rows = []
    for space_name in spaces:
        for runtime in args.runtimes.split(","):
            rows.append(run_space(space_name, runtime, args.repeats, args.rounds))
            r = rows[-1]
            print(f"{space_name} {runtime}: fitted {r['fitted'][0]:.0%} within ±10%, shipped {r['shipped'][0]:.0%} "
                  f"({r['seconds']:.0f} s)", flush=True)
    text = table(rows)
    print(text)
    if args.write:
        note = (f"`bench/fit_here.py --repeats {args.repeats} --rounds {args.rounds}`: per space and runtime, "
                f"{KIT} kit networks and {CHECK} random others timed end to end here in the same interleaved "
                f"rounds; the profile fitted on the kit's times predicts the others. Beside it, the shipped "
                f"table {DEFAULT_DEVICE} (measured with torch on another CPU of this machine class).")
        h.write_section("fit_here", "A device fitted from 20 networks timed on this machine (same run)",
                        note + "\n\n" + text)


if __name__ == "__main__":
    main()
