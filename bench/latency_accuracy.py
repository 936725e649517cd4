"""How well the latency tables predict whole networks, against a FLOPs baseline, per space and runtime.

For each space and runtime, the profile (for PyTorch eager the shipped one of this host's CPU,
``default_device()``; for ONNX Runtime one is
measured here, and the time that takes is printed; for a profile merged from sessions, the time of
one session) predicts ``--n`` random candidates that neither its calibration nor its validation
used; each candidate is then measured end to end on this machine with the profile's own settings
(runtime, threads, statistic, repeats). Printed per space and runtime: the share predicted within
+-10% of measured, the mean absolute percentage error (MAPE), Spearman's rho and the worst error;
the same for FLOPs times one constant (fitted on the profile's calibration networks), the estimate a
user would otherwise make; the noise floor: the same candidates measured a second time, compared
with the first measurement, which no predictor can beat; and the drift: how much faster or slower
this machine runs the profile's own calibration networks now than when it was profiled (for a
merged profile: than their median over its sessions), with the table's figures once that one
factor is taken out: what a user who ran ``nas speed-check`` just before would get.

Each space and runtime is evaluated in a fresh process, as the profiler measures each space in its
own: timing one space's networks leaves the process slower for the next (measured here: the same ten
shufflenetv2 networks ran 5-10% slower after 120 networks of other spaces than in a fresh process).

    .venv/bin/python bench/latency_accuracy.py [--spaces nasbench201,mobilenetv3] \
        [--runtimes torch,onnxruntime] [--n 30] [--profiles DIR] [--out FILE] [--quick] [--write]
    .venv/bin/python bench/latency_accuracy.py --pool bench/results/latency_accuracy_run9*_torch.json

``--pool`` measures nothing: it summarises earlier runs' ``--out`` files per space and runtime (the
share within +-10% over all their candidates, how many runs met 95%, the drifts), since on a machine
whose speed drifts one run is one moment.

``--profiles DIR`` evaluates the profiles in DIR (``<device>__<space>.json``, e.g. measured on a GPU
with ``nas profile --accelerator cuda``) instead of the shipped ones, each timed as its file says.

Run it on a quiet machine: anything else running distorts every figure.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import _harness as h
import numpy as np

import searchspaces
from nas.counting import count_macs
from nas.latency import default_device, default_profile, load_profile, predict_many
from nas.latency.calibration import error_summary
from nas.latency.profiler import profile_space, sample_networks, time_like
from nas.latency.shipped import host_cpu
from nas.latency.speedcheck import speed_check_points, with_speed_check


def session_seconds(profile) -> float | None:
    """How long profiling the space once took, as recorded (a merged profile: per session, on average)."""
    seconds, sessions = profile.measurement.duration_s, profile.measurement.sessions
    return None if seconds is None else seconds / (len(sessions) if sessions else 1)


def profile_for(
    space_name: str, runtime: str, reprofile: bool, profiles: Path | None = None
) -> tuple[object, float | None]:
    """The profile to evaluate and the seconds one session of its measurement took."""
    if profiles is not None:  # profiles measured elsewhere, e.g. on a GPU: <dir>/<anything>__<space>.json
        found = sorted(profiles.glob(f"*__{space_name}.json"))
        if not found:
            raise SystemExit(f"--profiles: no *__{space_name}.json in {profiles}")
        profile = load_profile(found[0])
        return profile, session_seconds(profile)
    if runtime == "torch" and not reprofile:
        profile = default_profile(space_name)
        return profile, session_seconds(profile)
    path = h.RESULTS / f"profile_{runtime}__{space_name}.json"
    if path.exists() and not reprofile:
        profile = load_profile(path)
        return profile, session_seconds(profile)
    seconds, profile = h.timed(profile_space, space_name, f"bench-{runtime}", runtime=runtime, threads=1)
    path.write_text(profile.to_json())
    return profile, seconds


def macs(space, arch, classes: int) -> float:
    res = space.resolution(arch)
    return float(count_macs(space.build(arch, classes), (1, 3, res, res)))


def evaluate(space_name: str, runtime: str, n: int, seed: int, reprofile: bool, profiles: Path | None = None) -> dict:
    space = searchspaces.get(space_name)
    profile, profiling_s = profile_for(space_name, runtime, reprofile, profiles)
    used = {p.arch for p in profile.calibration.networks} | {p.arch for p in profile.validation.networks}
    archs = sample_networks(space, n, profile.resolutions, seed, exclude=used)
    predicted = predict_many(profile, archs, space)
    # The networks `nas speed-check` would time again are timed in the same passes as the candidates:
    # the median of now over then is how much this machine's speed drifted since the profile was
    # measured, and the profile with that speed check is what a user who ran it would predict with.
    anchors = speed_check_points(profile)
    both = archs + [p.arch for p in anchors]
    checked_at = datetime.now(UTC)
    first_all, second_all = time_like(profile, both), time_like(profile, both)
    first, second = first_all[: len(archs)], second_all[: len(archs)]
    checked = with_speed_check(profile, [p.measured_ms for p in anchors], first_all[len(archs):], checked_at)
    # FLOPs baseline: latency = c * MACs, c by least relative squares on the calibration networks.
    fit = profile.calibration.networks
    fit_macs = np.array([macs(space, space.decode(p.arch), profile.num_classes) for p in fit])
    fit_ms = np.array([p.measured_ms for p in fit])
    c = float(np.sum(fit_macs / fit_ms) / np.sum((fit_macs / fit_ms) ** 2))
    flops_pred = c * np.array([macs(space, a, profile.num_classes) for a in archs])
    return {
        "space": space_name, "runtime": runtime, "device": profile.device.model_dump(exclude_none=True),
        "n": len(archs), "profiling_s": profiling_s,
        "profile_keys": len(profile.entries), "measured_ms_median": float(np.median(first)),
        "table": error_summary(first, predicted),
        "drift": checked.speed_check.factor,
        "table_drift_corrected": error_summary(first, predict_many(checked, archs, space)),
        "flops": error_summary(first, flops_pred),
        "noise_floor": error_summary(first, second),
        "shipped_validation": profile.validation.model_dump(exclude={"networks"}),
    }


def evaluate_fresh(*args) -> dict:
    """``evaluate`` in a process of its own, so what an earlier space left behind cannot slow this one."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(evaluate, *args).result()


def pct(x):
    return "   -" if x is None else f"{100 * x:5.1f}"


def rho(x):
    return "     -" if x is None else f"{x:6.3f}"


ROW_KEYS = {"space", "runtime", "table", "flops", "drift"}


def pool(files: list[Path]) -> None:
    """Summarise earlier runs (their --out files) per space and runtime: on a machine whose speed drifts
    from hour to hour, one run is one moment, and the share over runs at different times says more."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for path in files:
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise SystemExit(f"--pool: cannot read {path}: {error}")
        if not isinstance(rows, list) or not all(isinstance(row, dict) and ROW_KEYS <= row.keys() for row in rows):
            raise SystemExit(f"--pool: {path} is not a result of this bench (a list of rows with {sorted(ROW_KEYS)})")
        for row in rows:
            groups.setdefault((row["space"], row["runtime"]), []).append(row)
    print(f"{'space':<13}{'runtime':<12}{'runs':>4} {'n':>5} | {'table: <=10%':>12} {'MAPE':>10} {'max':>6} "
          f"{'runs >=95%':>10} | {'FLOPs: <=10%':>12} | {'drift':>9}")
    for (space, runtime), rows in sorted(groups.items()):
        n = sum(row["table"]["n"] for row in rows)

        def within(part: str) -> float:
            return sum(row[part]["within_10pct"] * row[part]["n"] for row in rows) / n

        mapes = [row["table"]["mape"] for row in rows]
        drifts = [row["drift"] for row in rows]
        meeting = sum(row["table"]["within_10pct"] >= 0.95 for row in rows)
        print(f"{space:<13}{runtime:<12}{len(rows):>4} {n:>5} | {pct(within('table')):>12} "
              f"{pct(min(mapes)).strip():>4}-{pct(max(mapes)).strip():<5} "
              f"{pct(max(row['table']['max_ape'] for row in rows)):>6} {f'{meeting} of {len(rows)}':>10} | "
              f"{pct(within('flops')):>12} | {min(drifts):.2f}-{max(drifts):.2f}")


def main() -> None:
    parser = h.parser(__doc__, seed=1000, quick={"spaces": "nasbench201", "runtimes": "torch", "n": 3})
    parser.add_argument("--spaces", default=",".join(searchspaces.names()))
    parser.add_argument("--runtimes", default="torch,onnxruntime")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--reprofile", action="store_true", help="measure every profile afresh")
    parser.add_argument("--profiles", type=Path, help="evaluate the profiles in this folder (<device>__<space>.json) "
                        "instead, timed as each says (e.g. on CUDA); --runtimes then only labels the rows")
    parser.add_argument("--out", type=Path, default=h.RESULTS / "latency_accuracy.json")
    parser.add_argument("--pool", type=Path, nargs="+", metavar="RESULT",
                        help="measure nothing: summarise these earlier runs' --out files, pooled per space and runtime")
    args = parser.parse_args()
    if args.pool:
        pool(args.pool)
        return
    h.RESULTS.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    tables = f"the profiles in {args.profiles}" if args.profiles else f"the shipped tables of {default_device()}"
    print(f"this host: {host_cpu()}; PyTorch rows use {tables}")
    print(f"{'space':<13}{'runtime':<12}{'n':>3} | {'table: <=10%':>12} {'MAPE':>6} {'rho':>6} {'max':>6} | "
          f"{'FLOPs: <=10%':>12} {'MAPE':>6} {'rho':>6} | {'retest: <=10%':>13} {'MAPE':>6} | "
          f"{'drift':>5} {'corr: <=10%':>11} {'MAPE':>6} | {'ms':>7} {'profiling':>9}")
    for space_name in args.spaces.split(","):
        for runtime in args.runtimes.split(","):
            row = evaluate_fresh(space_name, runtime, args.n, args.seed, args.reprofile, args.profiles)
            rows.append(row)
            t, f, r, d = row["table"], row["flops"], row["noise_floor"], row["table_drift_corrected"]
            prof = "?" if row["profiling_s"] is None else f"{row['profiling_s']:.0f} s"
            print(f"{space_name:<13}{runtime:<12}{row['n']:>3} | {pct(t['within_10pct']):>12} {pct(t['mape']):>6} "
                  f"{rho(t['spearman'])} {pct(t['max_ape']):>6} | {pct(f['within_10pct']):>12} {pct(f['mape']):>6} "
                  f"{rho(f['spearman'])} | {pct(r['within_10pct']):>13} {pct(r['mape']):>6} | "
                  f"{row['drift']:5.2f} {pct(d['within_10pct']):>11} {pct(d['mape']):>6} | "
                  f"{row['measured_ms_median']:7.1f} {prof:>9}", flush=True)
            args.out.write_text(json.dumps(rows, indent=1))
    h.publish(args, "latency_accuracy", "Latency tables against measurement", doc_section(args, rows, tables))


def doc_section(args, rows: list[dict], tables: str) -> str:
    """The run as docs/benchmarks.md shows it: what was compared, then one row per space and runtime."""
    note = (f"`bench/latency_accuracy.py --runtimes {args.runtimes} --n {args.n}`: {tables} predict {args.n} random "
            "candidates their calibration and validation never saw, each then timed end to end here with the "
            "profile's own settings. FLOPs: MACs times one constant fitted on the calibration networks; retest: "
            "the same candidates timed a second time (the noise floor); drift: this machine's speed now over the "
            "profile's (its calibration networks timed again), and the table's figures with it taken out.")
    header = ("space", "runtime", "table within ±10%", "MAPE", "Spearman", "worst", "FLOPs within ±10%", "FLOPs MAPE",
              "retest within ±10%", "drift", "drift taken out: within ±10%", "MAPE", "median ms", "profiling")
    def share(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    cells = [(r["space"], r["runtime"], f"**{share(r['table']['within_10pct'])}**", share(r["table"]["mape"]),
              h.fmt(r["table"]["spearman"], ".3f"), share(r["table"]["max_ape"]), share(r["flops"]["within_10pct"]),
              share(r["flops"]["mape"]), share(r["noise_floor"]["within_10pct"]), f"{r['drift']:.2f}",
              share(r["table_drift_corrected"]["within_10pct"]), share(r["table_drift_corrected"]["mape"]),
              f"{r['measured_ms_median']:.1f}", h.fmt(r["profiling_s"], ".0f") + " s") for r in rows]
    return note + "\n\n" + "\n".join(h.table(header, cells))


if __name__ == "__main__":
    main()
