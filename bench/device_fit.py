"""How well a device fitted from N measured networks predicts the rest, on HELP's 27 device settings.

    .venv/bin/python bench/device_fit.py [--ns 5,10,20,50] [--draws 20] [--quick] [--write]

For each device setting of HELP's NAS-Bench-201 latencies (all 15,625 cells; see bench/help_latency.py)
and each N: draw N cells at random (fixed seeds; and, for N = 10 and 20, the N cells `nas kit` picks,
what a user would time), fit with ``nas.latency.fit_profile`` leaving the
device's own family (all its batch sizes) out of the bank, predict every other cell with
``predict_many`` and score Spearman, MAPE and the share within +-10%. Beside it, on the same draws,
the op-count least-squares baseline (intercept + the cell's count of each operation), and HELP's
published 10-sample Spearman. No timing: the data is fixed, so this machine's speed cannot enter.
"""

from __future__ import annotations

from pathlib import Path

import _harness as h
import help_latency
import numpy as np

import searchspaces
from nas.latency import fit_profile, predict_many
from nas.latency.kit import choose_networks
from nas.latency.shipped import reference_table
from nas.stats import spearman

# HELP (Lee et al., NeurIPS 2021), Table 2: Spearman from 10 measured networks on unseen devices.
HELP_PUBLISHED = {"pixel2": 0.802, "raspi4": 0.890, "eyeriss": 0.940, "fpga": 0.985,
                  "titan_rtx_1": 0.987, "gold_6226": 0.989}
KIT_NS = (10, 20)  # the kit's draws are shown for these N
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def scores(predicted: np.ndarray, measured: np.ndarray) -> tuple[float, float, float]:
    ape = np.abs(predicted / measured - 1.0)
    return spearman(predicted, measured), float(ape.mean()), float((ape <= 0.10).mean())


def op_counts(archs: list[str]) -> np.ndarray:
    space = searchspaces.get("nasbench201")
    return np.array([[1.0] + [space.decode(a).count(op) for op in OPS[1:]] for a in archs])


def random_picks(archs: list[str], n: int, draws: int) -> list[np.ndarray]:
    """``draws`` sets of ``n`` cells drawn at random, fixed seeds."""
    return [np.random.default_rng(10_000 * n + draw).choice(len(archs), n, replace=False) for draw in range(draws)]


def kit_picks(archs: list[str], n: int, draws: int) -> list[np.ndarray]:
    """The cells ``nas kit --n n --seed draw`` would have the user time, for ``draws`` seeds."""
    space = searchspaces.get("nasbench201")
    where = {arch: i for i, arch in enumerate(archs)}
    reference = reference_table("nasbench201")
    return [np.array([where[a] for a in choose_networks(space, reference, n, seed=draw)]) for draw in range(draws)]


def evaluate(devices, archs, latency, picks: list[np.ndarray]) -> list[dict]:
    counts = op_counts(archs)
    rows = []
    for j, device in enumerate(devices):
        ours, base = [], []
        for picked in picks:
            rest = np.setdiff1d(np.arange(len(archs)), picked)
            measured = latency[:, j]
            profile = fit_profile("nasbench201", [(archs[i], measured[i]) for i in picked],
                                  device=device.replace("_", "-"), bank_exclude={help_latency.family(device)})
            predicted = np.maximum(predict_many(profile, [archs[i] for i in rest]), 1e-6)
            ours.append(scores(predicted, measured[rest]))
            coef, *_ = np.linalg.lstsq(counts[picked], measured[picked], rcond=None)
            base.append(scores(np.maximum(counts[rest] @ coef, 1e-6), measured[rest]))
        rows.append({"device": device, "ours": np.mean(ours, axis=0), "base": np.mean(base, axis=0)})
    return rows


def ceiling(archs: list[str], latency: np.ndarray) -> list[tuple[float, float]]:
    """Per device, Spearman and share within +-10% of our model fitted on all 15,625 cells: what no
    fit from N measurements can beat."""
    plan, rows = help_latency.design_rows(archs)
    out = []
    for j, weights in enumerate(help_latency.bank_weights(rows, latency)):
        predicted = rows @ weights * latency[:, j].mean()
        ape = np.abs(predicted / latency[:, j] - 1.0)
        out.append((spearman(predicted, latency[:, j]), float((ape <= 0.10).mean())))
    return out


def table(results: dict[int, list[dict]], best: list[tuple[float, float]]) -> str:
    ns = sorted(results)
    head = ("| device | " + " | ".join(f"N={n}: Spearman / ±10% (baseline)" for n in ns)
            + " | all cells (ceiling) | HELP, 10 |")
    lines = [head, "|---" * (len(ns) + 3) + "|"]
    devices = [r["device"] for r in results[ns[0]]]
    for i, device in enumerate(devices):
        cells = []
        for n in ns:
            o, b = results[n][i]["ours"], results[n][i]["base"]
            cells.append(f"{o[0]:.3f} / {o[2]:.0%} ({b[0]:.3f} / {b[2]:.0%})")
        help_figure = HELP_PUBLISHED.get(device)
        lines.append(f"| {device} | " + " | ".join(cells) + f" | {best[i][0]:.3f} / {best[i][1]:.0%} | "
                     f"{help_figure or ''} |")
    mean_cells, min_cells = [], []
    for n in ns:
        ours = np.array([r["ours"] for r in results[n]])
        base = np.array([r["base"] for r in results[n]])
        mean_cells.append(f"**{ours[:, 0].mean():.3f} / {ours[:, 2].mean():.0%}** ({base[:, 0].mean():.3f} / "
                          f"{base[:, 2].mean():.0%})")
        worst = int(np.argmin(ours[:, 0]))
        min_cells.append(f"{ours[worst, 0]:.3f} ({results[n][worst]['device']})")
    top = np.array(best)
    lines.append("| mean | " + " | ".join(mean_cells) + f" | {top[:, 0].mean():.3f} / {top[:, 1].mean():.0%} | "
                 f"{np.mean(list(HELP_PUBLISHED.values())):.3f} (6 devices) |")
    lines.append("| worst Spearman | " + " | ".join(min_cells) + f" | {top[:, 0].min():.3f} | 0.802 |")
    return "\n".join(lines)


def main() -> None:
    parser = h.parser(__doc__, quick={"ns": "10", "draws": 1, "draw": "random"})
    parser.add_argument("--ns", default="5,10,20,50", help="measured networks per fit, comma-separated")
    parser.add_argument("--draws", type=int, default=20, help="draws (random sets, or kit seeds) per device and N")
    parser.add_argument("--draw", choices=("random", "kit", "both"), default="both",
                        help="how the measured cells are chosen: at random, as `nas kit` does, or both")
    parser.add_argument("--latency", default=str(help_latency.DEFAULT_LATENCY))
    args = parser.parse_args()
    ns = [int(v) for v in args.ns.split(",")]
    devices, archs, latency = help_latency.load(Path(args.latency))
    timer = h.Timer()
    texts = []
    for label, pick, sizes in (("random", random_picks, ns), ("kit", kit_picks, [n for n in ns if n in KIT_NS])):
        if args.draw not in (label, "both") or not sizes:
            continue
        results = {}
        for n in sizes:
            results[n] = evaluate(devices, archs, latency, pick(archs, n, args.draws))
            ours = np.array([r["ours"] for r in results[n]])
            print(f"{label} N={n}: mean Spearman {ours[:, 0].mean():.3f}, worst {ours[:, 0].min():.3f}, "
                  f"MAPE {ours[:, 1].mean():.1%}, within ±10% {ours[:, 2].mean():.1%} "
                  f"({timer.seconds:.0f} s)", flush=True)
        texts.append((label, table(results, ceiling(archs, latency))))
    for label, text in texts:
        print(f"\n{label} draws\n{text}")
    if args.write:
        note = (f"`bench/device_fit.py --ns {args.ns} --draws {args.draws}`: {len(devices)} device settings of HELP's "
                "NAS-Bench-201 latencies; per fit N cells are measured and every other cell is predicted. Each cell: "
                "our fit's mean Spearman / share within ±10% over the draws, then in brackets the op-count "
                "least-squares baseline on the same cells. The device's own family is left out of the bank. "
                "\"All cells\": the same model fitted on all 15,625 cells of the device, the most any N could reach "
                "with it.")
        parts = [note]
        for label, text in texts:
            what = ("N cells drawn at random, fixed seeds" if label == "random"
                    else f"the N cells `nas kit --n N --seed K` picks, K = 0..{args.draws - 1}: what a user times")
            parts.append(f"**{label.capitalize()} draws** ({what}):\n\n{text}")
        h.write_section("device_fit", "Fitting a device from N measurements (NAS-Bench-201, fixed data)",
                        "\n\n".join(parts))


if __name__ == "__main__":
    main()
