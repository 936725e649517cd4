"""Measure a device latency profile on this machine: every block key, then whole networks.

The procedure (``nas profile`` runs it; it needs nothing but this package and the runtime):

1. Time every block key of the space (``space.all_blocks``) at batch 1 on one runtime with a fixed
   thread count. Keys are timed in ``rounds`` interleaved passes, so a slow spell of the machine
   spreads over many keys instead of spoiling a few.
2. Time an identity model: the runtime's fixed cost per inference (``overhead_ms``). It is taken off
   each block's figures and added once per network, since a network pays it once, not per block.
3. Time random whole networks end to end: a calibration set, on which ``a * (overhead + sum) + b``
   is fitted by least relative squares (each network's relative error weighs the same), and a
   separate validation set of other networks, on which the calibrated table is checked. Where the
   blocks of one kind (``space.block_kind``) misstate their cost inside a network in their own way,
   one scale per kind is fitted too, and kept only if it predicts left-out networks better
   (``choose_calibration``).

The statistic defaults to the minimum over repeats. On a shared cloud VM the median of one network
drifts by +-15% from one minute to the next (other tenants), while the minimum moves far less: the
minimum measures the architecture, the median the neighbours. Even the minimum follows the host's
shared memory bandwidth over minutes (``bench/machine_drift.py``), which no table can foresee; a
table merged from sessions measured at different times (``merge_sessions``, ``nas merge-profiles``)
describes the typical speed instead of one moment's. On a dedicated device, ``--statistic p50`` is
the common choice (nn-Meter, HW-NAS-Bench).
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

import searchspaces
from nas import __version__
from nas.latency.measure import Runner, Timing, accelerator_name, runtime_version, sample_calls, time_calls
from nas.latency.predict import kind_sums
from nas.latency.schema import SCHEMA_VERSION, NetworkPoint, Profile, ProfileError, validate_profile
from nas.stats import spearman

Progress = Callable[[str, int, int], None]  # (stage, done, total)
NETWORK_SECONDS = 3.0  # time cap per block or network timing, over all its rounds
KIND_RIDGE = 0.1  # how strongly per-kind scales are pulled towards the shared calibration
KIND_MARGIN = 0.10  # per-kind scales are kept only if they cut the leave-one-out error by 10% or more


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def describe_hardware(accelerator: str | None = None) -> str:
    """``x86_64, 2 cores, AMD EPYC (family 23 model 1, 1996 MHz, AVX2)`` from what the OS and torch
    say, after the GPU's name on an accelerator. A cloud VM's model name may be no more than "AMD
    EPYC", which hosts three times apart in speed share; the family, model, clock and the vector
    instructions torch uses tell them apart."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if not line.strip():
                    break  # the first processor is enough
                name, _, value = line.partition(":")
                fields.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    model = fields.get("model name") or platform.processor() or ""
    details = []
    if "cpu family" in fields and "model" in fields:
        details.append(f"family {fields['cpu family']} model {fields['model']}")
    try:
        details.append(f"{float(fields['cpu MHz']):.0f} MHz")
    except (KeyError, ValueError):
        pass
    details.append(torch.backends.cpu.get_cpu_capability())  # the vector instructions torch's kernels use
    detail = ", ".join(details)
    cpu = f"{model} ({detail})" if model and detail else model or detail
    gpu = accelerator_name(accelerator)
    return ", ".join(p for p in (gpu, platform.machine(), f"{os.cpu_count()} cores", cpu) if p)


def measure_interleaved(
    runner: Runner,
    items: Sequence[tuple[nn.Module, tuple[int, int, int]]],
    warmup: int,
    repeats: int,
    rounds: int,
    max_seconds: float,
    progress: Callable[[int], None],
) -> list[Timing]:
    """Time every item in ``rounds`` passes of ``repeats / rounds`` calls each, samples pooled."""
    calls = [runner.prepare(module, shape) for module, shape in items]
    per_round = max(1, -(-repeats // rounds))
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for i, call in enumerate(calls):
            samples[i] += sample_calls(call, warmup, per_round, max_seconds / rounds)
            progress(1)
    return [Timing.of(s) for s in samples]


def measure_networks(
    runner: Runner, space: searchspaces.SearchSpace, archs: Sequence[Any], num_classes: int,
    warmup: int, repeats: int, rounds: int, max_seconds: float, statistic: str,
    progress: Callable[[int], None] = lambda n: None,
) -> np.ndarray:
    """Whole candidates timed end to end in interleaved passes: one figure (ms) per candidate."""
    items = [(space.build(a, num_classes), (3, space.resolution(a), space.resolution(a))) for a in archs]
    timings = measure_interleaved(runner, items, warmup, repeats, rounds, max_seconds, progress)
    return np.array([getattr(t, statistic) for t in timings])


def sample_networks(
    space: searchspaces.SearchSpace, count: int, resolutions: Sequence[int], seed: int,
    exclude: set[str] = frozenset(),
) -> list[Any]:
    """``count`` distinct random candidates at the given resolutions, none of them in ``exclude``."""
    rng = random.Random(seed)
    found: dict[str, Any] = {}
    for _ in range(count * 200):
        if len(found) == count:
            break
        arch = space.sample(rng)
        text = space.encode(arch)
        if space.resolution(arch) in resolutions and text not in exclude:
            found.setdefault(text, arch)
    return list(found.values())


def fit_calibration(raw: np.ndarray, measured: np.ndarray) -> tuple[float, float]:
    """``a, b`` minimising the squared relative errors of ``a * raw + b``; ``a`` stays positive."""
    if len(raw) == 0:
        return 1.0, 0.0
    if len(raw) >= 2 and np.ptp(raw) > 0:
        design = np.column_stack([raw / measured, 1.0 / measured])
        a, b = np.linalg.lstsq(design, np.ones_like(measured), rcond=None)[0]
        if a > 0:
            return float(a), float(b)
    return float(np.median(measured / raw)), 0.0


def fit_kind_scales(
    sums: np.ndarray, overhead: float, measured: np.ndarray, a: float, ridge: float = KIND_RIDGE
) -> tuple[np.ndarray, float] | None:
    """Per-kind scales ``s`` and ``b`` minimising the squared relative errors of
    ``a * (overhead + sums @ s) + b`` for a fixed ``a``, each scale pulled towards 1.

    ``sums`` holds one row per network and one column per block kind. The pull (``ridge``, in units
    of one network's squared relative error) keeps a kind that few networks use near the shared
    calibration, and one that none uses exactly at it. ``None`` when the fit would make a scale zero
    or negative, or has too few networks to say anything.
    """
    kinds = sums.shape[1]
    if len(measured) < 3:
        return None
    design = np.vstack([
        np.column_stack([a * sums / measured[:, None], 1.0 / measured]),
        np.sqrt(ridge) * np.column_stack([np.eye(kinds), np.zeros(kinds)]),
    ])
    target = np.concatenate([1.0 - a * overhead / measured, np.full(kinds, np.sqrt(ridge))])
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    scales, b = coef[:-1], float(coef[-1])
    if (scales <= 0).any():
        return None
    return scales, b


def choose_calibration(
    sums: np.ndarray, overhead: float, measured: np.ndarray
) -> tuple[float, float, np.ndarray | None]:
    """``a, b`` and per-kind scales (or ``None``): the scales are kept only when they predict the
    calibration networks better, each left out of the fit in turn, than one ``a`` for every block.

    The leave-one-out test is what keeps the extra coefficients honest: on a space where one scale
    fits every kind (most of them, on PyTorch), it prefers the simpler calibration.
    """
    raw = sums.sum(axis=1) + overhead
    a, b = fit_calibration(raw, measured)
    fitted = fit_kind_scales(sums, overhead, measured, a)
    if fitted is None:
        return a, b, None
    shared_errors, kind_errors = [], []
    for i in range(len(measured)):
        rest = np.arange(len(measured)) != i
        a_i, b_i = fit_calibration(raw[rest], measured[rest])
        shared_errors.append(abs((a_i * raw[i] + b_i) / measured[i] - 1.0))
        out = fit_kind_scales(sums[rest], overhead, measured[rest], a_i)
        if out is None:
            return a, b, None
        kind_errors.append(abs((a_i * (overhead + sums[i] @ out[0]) + out[1]) / measured[i] - 1.0))
    if np.mean(kind_errors) < (1.0 - KIND_MARGIN) * np.mean(shared_errors):
        return a, fitted[1], fitted[0]
    return a, b, None


def error_summary(measured: np.ndarray, predicted: np.ndarray) -> dict[str, float | int | None]:
    """n, mean absolute percentage error, share within +-10%, Spearman, worst error."""
    if len(measured) == 0:
        return {"n": 0}
    ape = np.abs(predicted / measured - 1.0)
    rho = spearman(measured, predicted) if len(measured) > 2 else float("nan")
    return {
        "n": int(len(measured)),
        "mape": float(ape.mean()),
        "within_10pct": float((ape <= 0.10).mean()),
        "spearman": None if np.isnan(rho) else float(rho),
        "max_ape": float(ape.max()),
    }


def profile_space(
    space_name: str,
    device_name: str,
    *,
    runtime: str = "torch",
    accelerator: str | None = None,
    threads: int = 1,
    resolutions: Sequence[int] | None = None,
    num_classes: int | None = None,
    batch_size: int = 1,
    warmup: int = 5,
    repeats: int = 60,
    rounds: int = 3,
    statistic: str = "min",
    calibration: int = 30,
    validation: int = 30,
    network_seconds: float = NETWORK_SECONDS,
    seed: int = 0,
    hardware: str | None = None,
    progress: Progress = _no_progress,
) -> Profile:
    """Measure and return a complete, validated profile of ``space_name`` on this machine."""
    space = searchspaces.get(space_name)
    resolutions = space._check_resolutions(tuple(resolutions) if resolutions else None)
    classes = space._classes(num_classes)
    runner = Runner(runtime, threads, batch_size, accelerator)
    keys = sorted(space.all_blocks(resolutions, classes))
    measured_at = datetime.now(timezone.utc).replace(microsecond=0)
    started = time.perf_counter()

    def stage(name: str, total: int) -> Callable[[int], None]:
        done = [0]
        progress(name, 0, total)

        def step(n: int) -> None:
            done[0] += n
            progress(name, done[0], total)
        return step

    items = [space.block_module(key) for key in keys]
    timings = measure_interleaved(
        runner, items, warmup, repeats, rounds, network_seconds, stage("blocks", len(keys) * rounds)
    )
    smallest = min((shape for _, shape in items), key=lambda s: s[0] * s[1] * s[2])
    del items
    overhead = getattr(time_calls(runner.prepare(nn.Identity(), smallest), warmup, repeats), statistic)
    entries = {key: t.minus(overhead).as_entry() for key, t in zip(keys, timings)}

    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "device": {
            "name": device_name, "hardware": hardware or describe_hardware(accelerator),
            "runtime": runtime, "runtime_version": runtime_version(runtime), "threads": threads,
            "batch_size": batch_size, "precision": "fp32",
            **({"accelerator": accelerator} if accelerator else {}),
        },
        "measurement": {
            "warmup": warmup, "repeats": repeats, "rounds": rounds, "statistic": statistic,
            "unit": "ms", "measured_at": measured_at.isoformat(),
            "tool": f"hwnas {__version__} nas profile (nas.latency.profiler)",
            **({"allocator": runner.allocator} if runner.allocator else {}),
        },
        "search_space": space.name, "resolutions": list(resolutions), "num_classes": classes,
        "entries": entries, "overhead_ms": round(overhead, 4),
        "calibration": {"a": 1.0, "b": 0.0, "fit_on": 0}, "validation": {"n": 0},
    }
    validate_profile(document)  # a table that cannot be admitted fails before the networks are timed

    # Calibration and validation networks are timed in the same interleaved passes, so a drift of
    # the machine's speed between two phases cannot pass for an error of the table.
    fit_archs = sample_networks(space, calibration, resolutions, seed)
    exclude = {space.encode(arch) for arch in fit_archs}
    check_archs = sample_networks(space, validation, resolutions, seed + 1, exclude)
    archs = fit_archs + check_archs
    measured = measure_networks(
        runner, space, archs, classes, warmup, repeats, rounds, network_seconds, statistic,
        stage("networks", len(archs) * rounds),
    )
    fit_measured, check_measured = measured[: len(fit_archs)], measured[len(fit_archs):]
    document["measurement"]["duration_s"] = round(time.perf_counter() - started, 1)
    return calibrated(validate_profile(document), fit_archs, fit_measured, check_archs, check_measured)


def calibrated(
    profile: Profile, fit_archs: Sequence[Any], fit_measured: np.ndarray,
    check_archs: Sequence[Any], check_measured: np.ndarray,
) -> Profile:
    """``profile`` with its calibration fitted on the first networks and validated on the others
    (archs or canonical strings, with the milliseconds measured for them)."""
    space = searchspaces.get(profile.search_space)
    kinds, fit_sums = kind_sums(profile, fit_archs, space)
    _, check_sums = kind_sums(profile, check_archs, space)
    fit_measured, check_measured = np.asarray(fit_measured, float), np.asarray(check_measured, float)
    a, b, scales = choose_calibration(fit_sums, profile.overhead_ms, fit_measured)
    weights = np.ones(len(kinds)) if scales is None else scales

    def predicted(sums: np.ndarray) -> np.ndarray:
        return a * (profile.overhead_ms + sums @ weights) + b

    def points(archs: Sequence[Any], measured: np.ndarray, predicted: np.ndarray) -> list[dict]:
        return [
            NetworkPoint(arch=x if isinstance(x, str) else space.encode(x), measured_ms=float(m),
                         predicted_ms=max(float(p), 0.0)).model_dump()
            for x, m, p in zip(archs, measured, predicted)
        ]

    document = json.loads(profile.to_json())
    document["schema_version"] = SCHEMA_VERSION
    document["calibration"] = {
        "a": a, "b": b, "fit_on": len(fit_archs),
        "method": "least relative squares" if scales is None else (
            "least relative squares, one scale per block kind "
            f"(leave-one-out error {KIND_MARGIN:.0%} or more below one scale)"
        ),
        **({} if scales is None else {"kind_scales": {k: float(v) for k, v in zip(kinds, scales)}}),
        "networks": points(fit_archs, fit_measured, predicted(fit_sums)),
    }
    check_predicted = predicted(check_sums)
    document["validation"] = {
        **error_summary(check_measured, check_predicted),
        "networks": points(check_archs, check_measured, check_predicted),
    }
    return validate_profile(document)


def recalibrate(profile: Profile) -> Profile:
    """Fit ``profile``'s calibration again on the networks it recorded, nothing measured: for a
    profile written before per-kind scales existed, or after its entries were edited. A speed check
    is kept: it compares times measured later with the recorded ones, which a refit does not change."""
    fit, check = profile.calibration.networks, profile.validation.networks
    if len(fit) != profile.calibration.fit_on or profile.validation.n != len(check):
        raise ValueError(
            f"the profile records {len(fit)} of its {profile.calibration.fit_on} calibration networks and "
            f"{len(check)} of its {profile.validation.n} validation networks; all are needed to fit again"
        )
    return calibrated(
        profile, [p.arch for p in fit], np.array([p.measured_ms for p in fit]),
        [p.arch for p in check], np.array([p.measured_ms for p in check]),
    )


SPEED_CHECK_NETWORKS = 10  # calibration networks a speed check times again by default


def time_like(
    profile: Profile, archs: Sequence[Any], progress: Callable[[int], None] = lambda n: None,
) -> np.ndarray:
    """Whole networks (archs or canonical strings) timed end to end on this machine with the
    profile's own settings (runtime, threads, batch, warm-up, repeats, rounds, statistic), as
    ``nas profile`` timed its networks: one figure in ms per network."""
    space = searchspaces.get(profile.search_space)
    device, m = profile.device, profile.measurement
    runner = Runner(device.runtime, device.threads, device.batch_size, device.accelerator)
    archs = [space.decode(a) if isinstance(a, str) else a for a in archs]
    return measure_networks(runner, space, archs, profile.num_classes, m.warmup, m.repeats, m.rounds,
                            NETWORK_SECONDS, m.statistic, progress)


def speed_check_points(profile: Profile, networks: int = SPEED_CHECK_NETWORKS) -> list:
    """The calibration networks a speed check times again: the first ``networks`` with a recorded time."""
    return [p for p in profile.calibration.networks if p.measured_ms > 0][:networks]


def speed_check(
    profile: Profile, networks: int = SPEED_CHECK_NETWORKS, progress: Callable[[int], None] = lambda n: None,
) -> Profile:
    """Time ``networks`` of the profile's calibration networks again on this machine, now, and
    return the profile with a ``speed_check`` whose factor scales every prediction by how much
    slower (above 1) or faster they run than when the profile was measured.

    For a device whose speed has moved since it was profiled: a shared VM runs the same networks
    10-20% slower in a busy afternoon than in the morning (``bench/latency_accuracy.py``'s drift),
    which no static table can foresee. Run it on the device the profile describes; elsewhere the
    factor compares two machines. A profile that already had a speed check gets a new one: the
    factor is always against the recorded times."""
    if networks < 1:
        raise ValueError(f"networks: must be at least 1, got {networks}")
    points = speed_check_points(profile, networks)
    if not points:
        raise ValueError("calibration.networks: the profile records no calibration networks with a time "
                         "to measure again (profile the device with `nas profile` to get some)")
    measured_at = datetime.now(timezone.utc).replace(microsecond=0)
    measured = time_like(profile, [p.arch for p in points], progress)
    return with_speed_check(profile, [p.measured_ms for p in points], measured, measured_at)


def with_speed_check(
    profile: Profile, recorded_ms: Sequence[float], measured_ms: Sequence[float], measured_at: datetime,
) -> Profile:
    """``profile`` with a speed check of networks recorded at ``recorded_ms`` and timed again at
    ``measured_ms``: its factor is the median of the ratios."""
    ratios = np.asarray(measured_ms, float) / np.asarray(recorded_ms, float)
    document = json.loads(profile.to_json())
    document["schema_version"] = SCHEMA_VERSION
    document["speed_check"] = {
        "factor": float(np.median(ratios)), "measured_at": measured_at.isoformat(), "networks": len(ratios),
        "low": float(ratios.min()), "high": float(ratios.max()),
        "tool": f"hwnas {__version__} nas speed-check (nas.latency.profiler)",
    }
    return validate_profile(document)


# Fields every merged session must share: the same device, settings and networks, measured again.
_SAME = (
    ("device", lambda p: p.device.model_dump(exclude_none=True)),
    ("measurement.warmup", lambda p: p.measurement.warmup),
    ("measurement.repeats", lambda p: p.measurement.repeats),
    ("measurement.rounds", lambda p: p.measurement.rounds),
    ("measurement.statistic", lambda p: p.measurement.statistic),
    ("measurement.allocator", lambda p: p.measurement.allocator),
    ("search_space", lambda p: p.search_space),
    ("resolutions", lambda p: p.resolutions),
    ("num_classes", lambda p: p.num_classes),
    ("calibration.networks", lambda p: [n.arch for n in p.calibration.networks]),
    ("validation.networks", lambda p: [n.arch for n in p.validation.networks]),
)


def merge_sessions(profiles: Sequence[Profile], names: Sequence[str] | None = None) -> Profile:
    """One profile from several sessions of ``nas profile`` on the same device, measured at different times.

    A shared or throttling device runs the same network faster or slower from one hour to the next
    (this VM: sessions of one morning 5% apart, slow spells of 10% within the hour,
    ``bench/machine_drift.py``), so one session's table is that moment's speed. Merged, every entry, the overhead and every network's measured time are the
    median over the sessions, and the calibration is fitted again on those medians: the table
    describes the device's typical speed. The sessions must share the device, the settings and the
    networks (same ``--seed``, ``--calibration`` and ``--validation``); ``ProfileError`` lists every
    difference, naming the field and the session. ``names`` label the sessions in messages.
    """
    names = list(names) if names is not None else [f"session {i + 1}" for i in range(len(profiles))]
    if len(profiles) < 2:
        raise ProfileError([f"need at least 2 sessions to merge, got {len(profiles)}"], "merge")
    first, problems = profiles[0], []
    for name, profile in zip(names, profiles):
        if profile.speed_check:
            problems.append(f"{name}: has a speed check; merge the sessions as `nas profile` wrote them")
        if profile.measurement.sessions:
            problems.append(f"{name}: already merged from {len(profile.measurement.sessions)} sessions; "
                            "merge the sessions' own files instead")
    for field, value in _SAME:
        for name, profile in zip(names[1:], profiles[1:]):
            problems += _differences(field, value(first), value(profile), names[0], name)
    if any(p.entries.keys() != first.entries.keys() for p in profiles[1:]):
        problems.append("entries: the sessions do not time the same block keys")
    if problems:
        raise ProfileError(problems, "merge")

    def median(values: Sequence[float]) -> float:
        return float(np.median(np.asarray(values, float)))

    entries = {}
    for key in first.entries:
        rows = [p.entries[key] for p in profiles]
        entries[key] = {
            "p50": round(median([r.p50 for r in rows]), 4), "mean": round(median([r.mean for r in rows]), 4),
            "std": round(median([r.std for r in rows]), 4), "count": sum(r.count for r in rows),
            **({} if any(r.min is None for r in rows) else {"min": round(median([r.min for r in rows]), 4)}),
        }
    sessions = sorted(p.measurement.measured_at for p in profiles)
    durations = [p.measurement.duration_s for p in profiles]
    document = json.loads(first.to_json())
    document["entries"] = entries
    document["overhead_ms"] = round(median([p.overhead_ms for p in profiles]), 4)
    document["measurement"].update(
        measured_at=sessions[-1].isoformat(), sessions=[s.isoformat() for s in sessions],
        tool=f"hwnas {__version__} nas merge-profiles (median of {len(profiles)} sessions of nas profile)",
    )
    document["measurement"].pop("duration_s", None)
    if None not in durations:
        document["measurement"]["duration_s"] = round(sum(durations), 1)

    def measured(part: str) -> tuple[list[str], np.ndarray]:
        points = [getattr(p, part).networks for p in profiles]
        return [n.arch for n in points[0]], np.median([[n.measured_ms for n in ps] for ps in points], axis=0)

    return calibrated(validate_profile(document), *measured("calibration"), *measured("validation"))


def _differences(field: str, want: Any, got: Any, first: str, name: str) -> list[str]:
    if want == got:
        return []
    if isinstance(want, dict) and isinstance(got, dict):
        return [problem for key in sorted(want.keys() | got.keys())
                for problem in _differences(f"{field}.{key}", want.get(key), got.get(key), first, name)]
    if field.endswith(".networks"):
        return [f"{field}: {name} timed other networks than {first} "
                "(profile every session with the same --seed, --calibration and --validation)"]
    return [f"{field}: {got!r:.60} in {name}, {want!r:.60} in {first}"]


def session_speeds(profiles: Sequence[Profile], merged: Profile) -> list[float | None]:
    """Per session: the median over its networks of (its time / the merged time); 1.05 is 5% slower.
    None for a session whose profile recorded no networks."""
    def times(profile: Profile) -> np.ndarray:
        return np.array([n.measured_ms for n in profile.calibration.networks + profile.validation.networks])

    typical = times(merged)
    if not len(typical) or not np.all(typical > 0):
        return [None] * len(profiles)
    return [float(np.median(times(p) / typical)) for p in profiles]
