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
   (``nas.latency.calibration``).

The statistic defaults to the minimum over repeats. On a shared cloud VM the median of one network
drifts by +-15% from one minute to the next (other tenants), while the minimum moves far less: the
minimum measures the architecture, the median the neighbours. Even the minimum follows the host's
shared memory bandwidth over minutes (``bench/machine_drift.py``), which no table can foresee; a
table merged from sessions measured at different times (``nas.latency.sessions``, ``nas merge-profiles``)
describes the typical speed instead of one moment's. On a dedicated device, ``--statistic p50`` is
the common choice (nn-Meter, HW-NAS-Bench).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import numpy as np
from torch import nn

import searchspaces
from nas import __version__
from nas.latency.calibration import calibrated
from nas.latency.hardware import describe_hardware
from nas.latency.measure import Runner, Timing, runtime_version, sample_calls, time_calls
from nas.latency.schema import SCHEMA_VERSION, Profile, validate_profile

Progress = Callable[[str, int, int], None]  # (stage, done, total)
NETWORK_SECONDS = 3.0  # time cap per block or network timing, over all its rounds


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


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
    resolutions = space.check_resolutions(tuple(resolutions) if resolutions else None)
    classes = space.classes(num_classes)
    runner = Runner(runtime, threads, batch_size, accelerator)
    keys = sorted(space.all_blocks(resolutions, classes))
    measured_at = datetime.now(timezone.utc).replace(microsecond=0)
    started = time.perf_counter()
    entries, overhead = _time_blocks(
        runner, space, keys, warmup, repeats, rounds, network_seconds, statistic, progress
    )
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "device": _device(runner, device_name, hardware),
        "measurement": _measurement(runner, warmup, repeats, rounds, statistic, measured_at),
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
        _stage(progress, "networks", len(archs) * rounds),
    )
    fit_measured, check_measured = measured[: len(fit_archs)], measured[len(fit_archs):]
    document["measurement"]["duration_s"] = round(time.perf_counter() - started, 1)
    return calibrated(validate_profile(document), fit_archs, fit_measured, check_archs, check_measured)


def _stage(progress: Progress, name: str, total: int) -> Callable[[int], None]:
    """A step counter that reports stage ``name`` to ``progress``, starting at 0 of ``total``."""
    done = [0]
    progress(name, 0, total)

    def step(n: int) -> None:
        done[0] += n
        progress(name, done[0], total)
    return step


def _time_blocks(
    runner: Runner, space: searchspaces.SearchSpace, keys: Sequence[str], warmup: int, repeats: int,
    rounds: int, max_seconds: float, statistic: str, progress: Progress,
) -> tuple[dict[str, dict[str, float | int]], float]:
    """Every block key timed in interleaved passes, and the runtime's fixed cost per inference (an
    identity model at the smallest block input), which is taken off each block's figures."""
    items = [space.block_module(key) for key in keys]
    timings = measure_interleaved(
        runner, items, warmup, repeats, rounds, max_seconds, _stage(progress, "blocks", len(keys) * rounds)
    )
    smallest = min((shape for _, shape in items), key=lambda s: s[0] * s[1] * s[2])
    del items
    overhead = getattr(time_calls(runner.prepare(nn.Identity(), smallest), warmup, repeats), statistic)
    return {key: t.minus(overhead).as_entry() for key, t in zip(keys, timings)}, overhead


def _device(runner: Runner, device_name: str, hardware: str | None) -> dict[str, Any]:
    """The profile's ``device``: what runs the networks, and how."""
    return {
        "name": device_name, "hardware": hardware or describe_hardware(runner.accelerator),
        "runtime": runner.runtime, "runtime_version": runtime_version(runner.runtime),
        "threads": runner.threads, "batch_size": runner.batch_size, "precision": "fp32",
        **({"accelerator": runner.accelerator} if runner.accelerator else {}),
    }


def _measurement(
    runner: Runner, warmup: int, repeats: int, rounds: int, statistic: str, measured_at: datetime,
) -> dict[str, Any]:
    """The profile's ``measurement``: how every figure was taken."""
    return {
        "warmup": warmup, "repeats": repeats, "rounds": rounds, "statistic": statistic,
        "unit": "ms", "measured_at": measured_at.isoformat(),
        "tool": f"hwnas {__version__} nas profile (nas.latency.profiler)",
        **({"allocator": runner.allocator} if runner.allocator else {}),
    }
