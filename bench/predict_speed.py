"""How many candidates per second ``nas.latency.predict_many`` prices, against the per-key path it replaced.

The old path (kept below as ``old_predict_many``, a copy of ``predict_many`` before issue 24 item 5)
decodes each canonical string, builds every block key with ``space.blocks`` and looks each key up. The
new one cuts the string into the parts of ``space.block_parts`` and adds each part's kind sums, priced
once per profile. For each space this samples two disjoint sets of ``--n`` distinct canonical strings
(fixed seed; NAS-Bench-201 has only 15,625 cells, so 40% of them each), then, in ``--repeats``
interleaved rounds, times:

- ``old``: the old path on the second set;
- ``new cold``: the new path on the first set, right after the profile's predictor cache
  (``predict.drop_cache``) and the process-wide memos (part keys, structural features) were dropped: the
  first call a process makes, pricing every part inside the timing;
- ``new``: the new path on the second set next: strings it has never seen, parts priced already;
- ``again``: the second set once more (the same strings: only the structural features, remembered per
  string, are not computed again; NAS-Bench-201 has 15,625 cells in all).

It prints the median candidates per second of each and the ratios to ``old``, and stops if any new
prediction differs from the old one by more than 1e-9 relative. Spaces are priced with their shipped
default profile; NAS-Bench-201 also with a fitted-style copy (a speed check, a scale per block kind
and a coefficient per structural feature). Run it on a quiet machine: the figures are wall-clock.

    .venv/bin/python bench/predict_speed.py [--spaces mobilenetv3,nasbench201,shufflenetv2,metaformer] \
        [--n 20000] [--repeats 5] [--seed 0] [--quick] [--write]
"""

from __future__ import annotations

import importlib
import random

import _harness as h
import numpy as np

import searchspaces
from nas.latency import default_profile, predict_many
from nas.latency.schema import Profile, SpeedCheck

predict_module = importlib.import_module("nas.latency.predict")

SPACES = ("mobilenetv3", "nasbench201", "shufflenetv2", "metaformer")


def old_predict_many(profile: Profile, archs: list, space: searchspaces.SearchSpace) -> np.ndarray:
    """``predict_many`` as it was: decode, ``space.blocks``, one dict look-up per key."""
    keys = sorted(profile.entries)
    kind_of = profile.kinds()
    kinds = sorted(set(kind_of.values()))
    column = {kind: j for j, kind in enumerate(kinds)}
    index = {key: i for i, key in enumerate(keys)}
    values = np.array([profile.value(key) for key in keys], dtype=np.float64)
    kind_index = np.array([column[kind_of[key]] for key in keys], dtype=np.intp)
    scales_of = profile.calibration.kind_scales or {}
    scales = np.array([scales_of.get(kind, 1.0) for kind in kinds], dtype=np.float64)
    rows, cols, missing = [], [], set()
    for row, arch in enumerate(archs):
        if isinstance(arch, str):
            arch = space.decode(arch)
        for key in space.blocks(arch, profile.num_classes):
            col = index.get(key)
            if col is None:
                missing.add(key)
            else:
                rows.append(row)
                cols.append(col)
    if missing:
        raise ValueError(f"missing keys: {sorted(missing)[:5]}")
    sums = np.zeros((len(archs), len(kinds)), dtype=np.float64)
    cols = np.asarray(cols, dtype=np.intp)
    np.add.at(sums, (np.asarray(rows, dtype=np.intp), kind_index[cols]), values[cols])
    raw = sums @ scales + profile.overhead_ms
    speed = profile.speed_check.factor if profile.speed_check else 1.0
    predicted = speed * (profile.calibration.a * raw + profile.calibration.b)
    coefficients = profile.calibration.structure
    if coefficients:
        names = sorted(coefficients)
        weights = np.array([coefficients[name] for name in names], dtype=np.float64)
        features = np.array(
            [[feats[name] for name in names] for feats in
             (space.structure_features(space.decode(a) if isinstance(a, str) else a) for a in archs)],
            dtype=np.float64,
        ).reshape(len(archs), len(names))
        predicted = predicted + speed * (features @ weights)
    return predicted


def distinct_strings(space: searchspaces.SearchSpace, n: int, seed: int) -> tuple[list[str], list[str]]:
    """Two disjoint lists of ``n`` distinct canonical strings (fewer in a small space)."""
    rng = random.Random(seed)
    n = min(n, int(space.size() * 0.4))
    seen: dict[str, None] = {}
    while len(seen) < 2 * n:
        seen[space.encode(space.sample(rng))] = None
    texts = list(seen)
    return texts[:n], texts[n:]


def fitted_style(profile: Profile, space: searchspaces.SearchSpace) -> Profile:
    """A copy with a speed check, a scale per kind and a coefficient per structural feature."""
    kinds = sorted(set(profile.kinds().values()))
    calibration = profile.calibration.model_copy(update={
        "kind_scales": {kind: 0.9 + 0.02 * i for i, kind in enumerate(kinds)},
        "structure": {name: -1.5 + 0.25 * i for i, name in enumerate(space.structure_feature_names)},
    })
    speed = SpeedCheck(factor=1.07, low=1.01, high=1.12, networks=3, measured_at="2026-01-01T00:00:00Z",
                       tool="bench")
    return profile.model_copy(update={"calibration": calibration, "speed_check": speed})


def drop_caches(profile: Profile) -> None:
    predict_module.drop_cache(profile)
    clear = getattr(predict_module, "clear_memos", None)
    if clear is not None:
        clear()


def agree(label: str, new: np.ndarray, old: np.ndarray) -> None:
    worst = float(np.max(np.abs(new - old) / np.abs(old)))
    if worst > 1e-9:
        raise SystemExit(f"{label}: new and old predictions differ by {worst:.2e} relative")


def bench(label: str, profile: Profile, space: searchspaces.SearchSpace, first: list[str],
          second: list[str], repeats: int) -> str:
    expected_first = old_predict_many(profile, first, space)
    old_s, cold_s, warm_s, again_s = [], [], [], []
    for _ in range(repeats):
        seconds, old = h.timed(old_predict_many, profile, second, space)
        old_s.append(seconds)
        drop_caches(profile)
        seconds, cold = h.timed(predict_many, profile, first, space)
        cold_s.append(seconds)
        seconds, warm = h.timed(predict_many, profile, second, space)
        warm_s.append(seconds)
        seconds, again = h.timed(predict_many, profile, second, space)
        again_s.append(seconds)
        agree(label, cold, expected_first)
        agree(label, warm, old)
        agree(label, again, old)
    rate = {name: len(second) / h.median(s)
            for name, s in (("old", old_s), ("cold", cold_s), ("warm", warm_s), ("again", again_s))}
    print(f"{label:<28} {len(second):>7,} {rate['old']:>9,.0f} {rate['cold']:>9,.0f} "
          f"{rate['warm']:>9,.0f} {rate['again']:>9,.0f} {rate['cold'] / rate['old']:>8.1f}x "
          f"{rate['warm'] / rate['old']:>7.1f}x", flush=True)
    return (f"| {label} | {len(second):,} | {rate['old']:,.0f} | {rate['cold']:,.0f} | **{rate['warm']:,.0f}** | "
            f"{rate['again']:,.0f} | {rate['warm'] / rate['old']:.1f}x |")


def main() -> None:
    parser = h.parser(__doc__, seed=0, quick={"n": 200, "repeats": 1})
    parser.add_argument("--spaces", default=",".join(SPACES))
    parser.add_argument("--n", type=int, default=20000, help="distinct canonical strings per space")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"candidates per second, median of {args.repeats} interleaved repeats (all agree to 1e-9)")
    print(f"{'space / profile':<28} {'strings':>7} {'old':>9} {'new cold':>9} {'new':>9} {'again':>9} "
          f"{'cold/old':>9} {'new/old':>8}")
    rows = []
    for name in h.spaces(parser, args.spaces):
        space = searchspaces.get(name)
        first, second = distinct_strings(space, args.n, args.seed)
        profile = default_profile(name)
        rows.append(bench(f"{name} (shipped)", profile, space, first, second, args.repeats))
        if space.structure_feature_names:
            fitted = fitted_style(profile, space)
            rows.append(bench(f"{name} (fitted-style)", fitted, space, first, second, args.repeats))
    if args.write:
        head = ("| space / profile | strings | old | new, first call | **new** | again | new/old |\n"
                "|---|---|---|---|---|---|---|")
        note = (f"`bench/predict_speed.py --repeats {args.repeats}`: candidates per second through "
                "`predict_many`, distinct canonical strings never seen before (\"new\"; \"new, first call\" "
                "includes building the profile's tables; \"again\" the same strings a second time), against "
                "the previous implementation (\"old\": decode, block keys, one lookup per key), medians of "
                "interleaved repeats; all agree to 1e-9.")
        h.write_section("predict_speed", "Latency prediction speed", note + "\n\n" + head + "\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
