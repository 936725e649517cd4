"""Zero-cost proxies against NAS-Bench-201's published accuracies.

Samples cells of the `nasbench201` space with a fixed seed, scores each with every proxy on one batch
of real CIFAR-10 images (the shipped sample), and prints the Spearman and Kendall correlation of each
proxy with the benchmark's CIFAR-10, CIFAR-100 and ImageNet16-120 test accuracy (200 epochs, seed
mean), next to the published |Spearman| on CIFAR-10.

    .venv/bin/python bench/nb201_proxies.py [--cells 1000] [--workers 2] [--quick] [--write]

Ground truth: ../shared/zc_ground_truth/data/nb201_accuracy/nats_bench.csv (see its SOURCES.md), or
--accuracy PATH. Per-cell scores are kept in bench/results/nb201_proxies.jsonl, so a rerun resumes.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing as mp
import random
from pathlib import Path

import _harness as h

DEFAULT_ACCURACY = h.ROOT.parent / "shared/zc_ground_truth/data/nb201_accuracy/nats_bench.csv"
# NASLib's per-arch proxy scores for ~725 NB201 cells (the NAS-Bench-Suite-Zero precursor files).
NASLIB_SCORES = h.ROOT.parent / "shared/zc_ground_truth/data/naslib_zc/zc_nasbench201.json"
NASLIB_NAMES = {"synflow": "synflow", "snip": "snip", "grasp": "grasp", "fisher": "fisher",
                "grad_norm": "grad_norm", "jacob_cov": "jacov", "naswot": "nwot", "params": "params",
                "macs": "flops"}
# NASLib writes a cell as a tuple of op codes in its own edge order (see the ground truth SOURCES.md)
NASLIB_OPS = {0: "skip_connect", 1: "none", 2: "nor_conv_3x3", 3: "nor_conv_1x1", 4: "avg_pool_3x3"}
NASLIB_EDGE = (0, 1, 3, 2, 4, 5)
# Abdelfattah et al., ICLR 2021 (Table 1, all 15,625 cells, CIFAR-10), and NAS-Bench-Suite-Zero
# (Krishnakumar et al., NeurIPS 2022) for naswot, params and flops (our macs); MeCo (NeurIPS 2023) on
# NATS-Bench-TSS (the same cells), CIFAR-10. |Spearman|.
PUBLISHED = {"meco": 0.89, "synflow": 0.74, "jacob_cov": 0.73, "snip": 0.60, "grad_norm": 0.59, "grasp": 0.51,
             "fisher": 0.36, "naswot": 0.79, "params": 0.74, "macs": 0.71}
# Ensembles compared: NAS-Bench-Suite-Zero's trio, AZ-NAS's four components, the default and others.
ENSEMBLES = (
    ("naswot", "synflow", "jacob_cov"),
    ("az_expressivity", "az_progressivity", "az_trainability", "macs"),
    ("meco", "synflow", "jacob_cov"),
    ("meco", "synflow"),
    ("meco", "naswot"),
    ("meco", "swap", "zico"),
    ("meco", "naswot", "synflow", "jacob_cov"),
    ("meco", "synflow", "jacob_cov", "az_expressivity", "az_progressivity", "az_trainability"),
)
DATASETS = (("cifar10", "CIFAR10TestAccuracy200Epochs"), ("cifar100", "CIFAR100TestAccuracy200Epochs"),
            ("imagenet16", "ImageNetTestAccuracy200Epochs"))


def load_accuracy(path: Path) -> dict[str, dict[str, float]]:
    with open(path, newline="") as handle:
        return {row["ArchitectureString"]: {name: float(row[col]) for name, col in DATASETS}
                for row in csv.DictReader(handle)}


def score_cells(args: tuple[list[dict], int, int]) -> list[dict]:
    """Each row (``arch``, and the ``scores`` kept from an earlier run) with every registered proxy it
    lacks added; ``seconds`` adds this call's time to the earlier run's (proxies added later, timed apart)."""
    rows, batch, seed = args
    import torch

    import nas.proxies as proxies
    import searchspaces

    torch.set_num_threads(1)
    space = searchspaces.get("nasbench201")
    data = proxies.cifar10_data(batch, 32, seed=seed)
    for row in rows:
        arch = space.decode(row["arch"])
        missing = [name for name in proxies.names() if name not in row["scores"]]
        seconds, scores = h.timed(proxies.compute, lambda: space.build(arch, num_classes=10), data.inputs,
                                  data.targets, missing, seed=seed)
        row["scores"].update(scores)
        row["seconds"] = row.get("seconds", 0.0) + seconds
        row.setdefault("added", []).append({"proxies": missing, "seconds": seconds})
    return rows


def main() -> None:
    parser = h.parser(__doc__, seed=0, quick={"cells": 3, "batch": 8, "workers": 1})
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--accuracy", type=Path, default=DEFAULT_ACCURACY)
    parser.add_argument("--results", type=Path, default=h.RESULTS / "nb201_proxies.jsonl")
    args = parser.parse_args()
    if not args.accuracy.exists():
        parser.error(f"--accuracy: {args.accuracy} does not exist")

    accuracy = load_accuracy(args.accuracy)
    cells = random.Random(args.seed).sample(sorted(accuracy), args.cells)
    done = {}
    if args.results.exists():
        for line in args.results.read_text().splitlines():
            row = json.loads(line)
            done[row["arch"]] = row
    import nas.proxies as proxies

    todo = [done.get(c, {"arch": c, "scores": {}}) for c in cells
            if not set(proxies.names()) <= set(done.get(c, {}).get("scores", ()))]
    print(f"{len(cells)} cells (seed {args.seed}), {len(cells) - len(todo)} scored by every proxy, batch "
          f"{args.batch} of real CIFAR-10 images, {args.workers} worker(s)", flush=True)
    chunks = [(todo[i:i + 10], args.batch, args.seed) for i in range(0, len(todo), 10)]
    timer, scored = h.Timer(), 0
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for rows in pool.imap_unordered(score_cells, chunks):
            for row in rows:
                done[row["arch"]] = row
            # the whole file again: a row gains proxies in place (a crash loses at most this rewrite)
            temporary = args.results.with_suffix(".tmp")
            temporary.write_text("".join(json.dumps(row) + "\n" for row in done.values()))
            temporary.replace(args.results)
            scored += len(rows)
            print(f"  {scored}/{len(todo)} cells, {scored / timer.seconds:.2f} cells/s", flush=True)
    table = report([done[c] for c in cells], accuracy)
    table += ["", *report_ensembles([done[c] for c in cells], accuracy)]
    note = (f"`bench/nb201_proxies.py --cells {args.cells} --seed {args.seed} --batch {args.batch}`: {args.cells} "
            f"cells drawn with seed {args.seed}, every proxy on one batch of {args.batch} real CIFAR-10 images (the "
            "shipped sample), rank correlation with the benchmark's test accuracy (200 epochs, seed mean). "
            "\"published\" is |Spearman| on all 15,625 cells, CIFAR-10 (Abdelfattah et al., ICLR 2021; "
            "NAS-Bench-Suite-Zero for naswot, params, flops; MeCo's paper for meco). The second table: each "
            "ensemble by the search's aggregation, the log-rank sum (bold where it beats its best member), beside "
            "the mean rank of the same proxies and its best member alone. Per-cell scores: "
            "`bench/results/nb201_proxies.jsonl`.")
    h.publish(args, "nb201_proxies", "Proxies against NAS-Bench-201", note + "\n\n" + "\n".join(table))


def report(rows: list[dict], accuracy: dict[str, dict[str, float]]) -> list[str]:
    """Print the correlations, and more; the correlations as a markdown table."""
    from nas.stats import kendall, spearman

    names = list(rows[0]["scores"])
    print(f"\nNAS-Bench-201, {len(rows)} cells, proxies on real CIFAR-10 images")
    print(f"{'proxy':<16} {'published':>9} | " + " | ".join(f"{d:>10} rho {'tau':>5}" for d, _ in DATASETS))
    cells = []
    for name in names:
        scores = [r["scores"][name] for r in rows]
        cols, pairs = [], []
        for dataset, _ in DATASETS:
            acc = [accuracy[r["arch"]][dataset] for r in rows]
            rho, tau = spearman(scores, acc), kendall(scores, acc)
            cols.append(f"{rho:>14.3f} {tau:>5.3f}")
            pairs += [f"{rho:.3f}", f"{tau:.3f}"]
        published = f"{PUBLISHED[name]:.2f}" if name in PUBLISHED else "-"
        print(f"{name:<16} {published:>9} | " + " | ".join(cols))
        cells.append([name, published, *pairs])
    seconds = [r["seconds"] for r in rows]
    print(f"\nmean seconds per cell for the whole suite (1 thread): {sum(seconds) / len(seconds):.2f}")
    floors = {n: sum(r["scores"][n] <= -1e29 for r in rows) for n in names}
    print("cells at the floor (undefined score): "
          + ", ".join(f"{n} {c}" for n, c in floors.items() if c) or "none")
    if any(not math.isfinite(r["scores"][n]) for r in rows for n in names):
        print("WARNING: non-finite scores present")
    compare_with_naslib(rows)
    return h.table(["proxy", "published", *(f"{d} {c}" for d, _ in DATASETS for c in ("rho", "tau"))], cells)


def report_ensembles(rows: list[dict], accuracy: dict[str, dict[str, float]]) -> list[str]:
    """Spearman of each candidate ensemble, by the search's aggregation (log-rank sum) and by mean rank,
    beside its best member; a markdown table. The members' cost per cell is printed where it was timed."""
    from nas.proxies import ensemble_scores, mean_rank
    from nas.stats import spearman

    known = set(rows[0]["scores"])
    print(f"\nensembles ({len(rows)} cells): Spearman, log-rank sum / mean rank / best member")
    cells, population = [], [r["scores"] for r in rows]
    for members in ENSEMBLES:
        if not set(members) <= known:
            continue
        columns = []
        by_log, by_mean = ensemble_scores(population, members), mean_rank(population, members)
        for dataset, _ in DATASETS:
            acc = [accuracy[r["arch"]][dataset] for r in rows]
            best = max(spearman([r["scores"][m] for r in rows], acc) for m in members)
            columns.append((spearman(by_log, acc), spearman(by_mean, acc), best))
        print(f"  {' + '.join(members):<66} " + " | ".join(f"{a:.3f} {b:.3f} {c:.3f}" for a, b, c in columns))
        cells.append([" + ".join(members), *(f"**{a:.3f}**" if a > c else f"{a:.3f}" for a, _, c in columns),
                      *(f"{b:.3f}" for _, b, _ in columns), *(f"{c:.3f}" for _, _, c in columns)])
    added = {}
    for row in rows:
        for timing in row.get("added", []):
            added.setdefault(" + ".join(timing["proxies"]), []).append(timing["seconds"])
    for names, seconds in added.items():
        print(f"  seconds per cell for {names} (1 thread): median {h.median(seconds):.2f}")
    return h.table(["ensemble (log-rank sum)", *(f"{d} rho" for d, _ in DATASETS),
                    *(f"{d} mean rank" for d, _ in DATASETS), *(f"{d} best member" for d, _ in DATASETS)], cells)


def compare_with_naslib(rows: list[dict]) -> None:
    """Rank agreement of our scores with NASLib's published per-cell scores, where cells overlap.
    Their weights and data batch differ from ours, so agreement near 1 (not equality) is expected."""
    import searchspaces
    from nas.stats import spearman

    if not NASLIB_SCORES.exists():
        return
    space = searchspaces.get("nasbench201")
    theirs = {}
    for key, value in json.loads(NASLIB_SCORES.read_text())["cifar10"].items():
        ops = [None] * 6
        for position, code in enumerate(json.loads(key.replace("(", "[").replace(")", "]"))):
            ops[NASLIB_EDGE[position]] = NASLIB_OPS[code]
        theirs[space.encode(tuple(ops))] = value
    both = [r for r in rows if r["arch"] in theirs]
    if len(both) < 5:
        return
    print(f"\nagreement with NASLib's per-cell scores on the {len(both)} cells both scored (Spearman):")
    for ours, name in NASLIB_NAMES.items():
        mine = [r["scores"][ours] for r in both]
        published = [theirs[r["arch"]][name]["score"] if isinstance(theirs[r["arch"]][name], dict)
                     else theirs[r["arch"]][name] for r in both]
        print(f"  {ours:<10} {spearman(mine, published):.3f}")


if __name__ == "__main__":
    main()
