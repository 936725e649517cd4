"""HELP's NAS-Bench-201 latencies (all 15,625 cells on 27 device settings) and the bank made from them.

    .venv/bin/python bench/help_latency.py --write-bank   # refresh latency_tables/nb201_device_bank.json
    .venv/bin/python bench/help_latency.py --ceilings     # what a model fitted on all cells reaches
    .venv/bin/python bench/help_latency.py --boosted      # and boosted trees on each device's own cells
    .venv/bin/python bench/help_latency.py --mirrors      # how far two timings of one network differ

The data: ../shared/zc_ground_truth/data/nb201_latency_help/nb201_latency_derived.csv (HayeonLee/HELP,
MIT licence; see its SOURCES.md), or --latency PATH. ``bench/device_fit.py`` evaluates fits on it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import _harness as h
import numpy as np

DEFAULT_LATENCY = h.ROOT.parent / "shared/zc_ground_truth/data/nb201_latency_help/nb201_latency_derived.csv"
BANK = h.ROOT / "latency_tables/nb201_device_bank.json"
BATCH_SUFFIXES = ("_1", "_32", "_256")


def family(device: str) -> str:
    """A device setting's device: ``titan_rtx_32`` -> ``titan_rtx`` (its batch sizes are one device)."""
    for suffix in BATCH_SUFFIXES:
        if device.endswith(suffix):
            return device[: -len(suffix)]
    return device


def load(path: Path = DEFAULT_LATENCY) -> tuple[list[str], list[str], np.ndarray]:
    """(device settings, arch strings in NB201 index order, latency ms [cells x devices])."""
    if not path.exists():
        raise SystemExit(f"--latency: {path} not found (HELP's latencies; see shared/zc_ground_truth/SOURCES.md)")
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    devices = header[2:]
    archs = [row[1] for row in rows]
    return devices, archs, np.array([[float(v) for v in row[2:]] for row in rows])


def design_rows(archs: list[str]):
    """The fit's design for NAS-Bench-201 on the default reference, and its rows for ``archs``."""
    import searchspaces
    from nas.latency import linear
    from nas.latency.shipped import reference_table

    space = searchspaces.get("nasbench201")
    table = linear.floored(reference_table("nasbench201"))
    plan = linear.design(table, space)
    return plan, linear.features(table, plan, archs, space)


def bank_weights(rows: np.ndarray, latency: np.ndarray) -> np.ndarray:
    """Each device's weights on all cells: least squares on its times over their mean (minimum-norm
    where columns are collinear, as the constant kinds of NAS-Bench-201 are). Absolute, not relative,
    errors: on Pixel 3 and Raspberry Pi 4 a few hundred folded cells run in 0.01 ms, and relative
    least squares spends the fit on them (Spearman over all cells 0.91 against 0.97)."""
    return np.array([np.linalg.lstsq(rows, column / column.mean(), rcond=None)[0] for column in latency.T])


def write_bank(path: Path) -> None:
    devices, archs, latency = load(path)
    plan, rows = design_rows(archs)
    weights = bank_weights(rows, latency)
    document = {
        "space": "nasbench201",
        "source": "HELP (Lee et al., NeurIPS 2021), github.com/HayeonLee/HELP data/nasbench201/latency, "
                  "MIT licence, Copyright (c) 2021 Hayeon Lee; raspi4, pixel3, eyeriss and fpga are "
                  "HW-NAS-Bench's (Li et al., ICLR 2021, MIT licence). Only fitted weights are kept here.",
        "made_by": "bench/help_latency.py --write-bank",
        "features": list(plan.names),
        "devices": {d: {"family": family(d), "mean_ms": float(latency[:, j].mean()),
                        "weights": [round(float(v), 8) for v in weights[j]]} for j, d in enumerate(devices)},
    }
    BANK.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {BANK.relative_to(h.ROOT)}: {len(devices)} device settings x {len(plan.names)} weights")


def ceilings(path: Path) -> None:
    """Per model, fitted on all 15,625 cells of each device: mean and worst Spearman, mean share within
    +-10%. Ours, then ours with each edge's operation and every pair of operations on two edges."""
    from nas.stats import spearman

    devices, archs, latency = load(path)
    _plan, rows = design_rows(archs)
    ops = ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    import searchspaces

    space = searchspaces.get("nasbench201")
    edge_ops = np.array([[float(op == o) for op in space.decode(a) for o in ops] for a in archs])
    pairs = [edge_ops[:, i] * edge_ops[:, j] for i in range(edge_ops.shape[1])
             for j in range(i + 1, edge_ops.shape[1]) if i // len(ops) != j // len(ops)]
    richer = np.hstack([rows, edge_ops, np.stack(pairs, 1)])
    for name, features in (("ours", rows), ("ours + edge operations + pairs", richer)):
        rho, within = [], []
        for j, weights in enumerate(bank_weights(features, latency)):
            predicted = features @ weights * latency[:, j].mean()
            rho.append(spearman(predicted, latency[:, j]))
            within.append(float((np.abs(predicted / latency[:, j] - 1.0) <= 0.10).mean()))
        print(f"{name} ({features.shape[1]} features): Spearman mean {np.mean(rho):.3f}, worst {min(rho):.3f} "
              f"({devices[int(np.argmin(rho))]}); within ±10% {np.mean(within):.1%}")


def boosted(path: Path) -> None:
    """Per device, gradient-boosted trees on a cell's six operations (as categories), each cell
    predicted by a model trained on 80% of the device's other cells (5-fold): what a flexible model
    reaches with 12,500 measurements, not 20. Needs scikit-learn (``.venv/bin/pip install
    scikit-learn``; the service does not)."""
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.model_selection import KFold
    except ImportError:
        raise SystemExit("--boosted needs scikit-learn: .venv/bin/pip install scikit-learn") from None
    import searchspaces
    from nas.stats import spearman

    devices, archs, latency = load(path)
    space = searchspaces.get("nasbench201")
    ops = sorted({op for a in archs for op in space.decode(a)})
    codes = np.array([[ops.index(op) for op in space.decode(a)] for a in archs])
    rho, within = [], []
    for j, device in enumerate(devices):
        measured, predicted = latency[:, j], np.empty(len(archs))
        for train, test in KFold(5, shuffle=True, random_state=0).split(codes):
            model = HistGradientBoostingRegressor(loss="absolute_error", max_iter=400, max_leaf_nodes=63,
                                                  categorical_features=list(range(codes.shape[1])), random_state=0)
            model.fit(codes[train], np.log(measured[train]))
            predicted[test] = np.exp(model.predict(codes[test]))
        rho.append(spearman(predicted, measured))
        within.append(float((np.abs(predicted / measured - 1.0) <= 0.10).mean()))
        print(f"  {device}: Spearman {rho[-1]:.3f}, within ±10% {within[-1]:.1%}", flush=True)
    print(f"boosted trees, 5-fold on each device's own cells: Spearman mean {np.mean(rho):.3f}, worst {min(rho):.3f} "
          f"({devices[int(np.argmin(rho))]}); within ±10% {np.mean(within):.1%}")


def mirrors(path: Path) -> None:
    """Per device, how far apart the timings of a cell and its mirror image are: with no edge from
    node 1 to node 2, swapping the two nodes gives another index that computes the same network."""
    import searchspaces

    devices, archs, latency = load(path)
    space = searchspaces.get("nasbench201")
    index = {a: i for i, a in enumerate(archs)}
    pairs = []
    for i, text in enumerate(archs):
        a = space.decode(text)  # edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
        if a[2] == "none":
            j = index[space.encode((a[1], a[0], "none", a[3], a[5], a[4]))]
            if j > i:
                pairs.append((i, j))
    first, second = np.array(pairs).T
    print(f"{len(pairs)} pairs of a cell and its mirror image; median and 90th percentile of |log ratio|:")
    for j, device in enumerate(devices):
        gap = np.abs(np.log(latency[first, j] / latency[second, j]))
        print(f"  {device}: {np.median(gap):.3f}, {np.quantile(gap, 0.9):.3f}")


if __name__ == "__main__":
    parser = h.parser(__doc__, write=False)
    parser.add_argument("--latency", type=Path, default=DEFAULT_LATENCY)
    parser.add_argument("--write-bank", action="store_true", help="refresh the shipped bank")
    parser.add_argument("--ceilings", action="store_true", help="print what models fitted on all cells reach")
    parser.add_argument("--boosted", action="store_true", help="print what boosted trees reach (scikit-learn)")
    parser.add_argument("--mirrors", action="store_true", help="print how far two timings of one network differ")
    args = parser.parse_args()
    if args.write_bank:
        write_bank(args.latency)
    if args.ceilings:
        ceilings(args.latency)
    if args.boosted:
        boosted(args.latency)
    if args.mirrors:
        mirrors(args.latency)
