"""This machine's own profile, where no shipped table names its CPU: fitted from networks timed here.

One machine class ("x86-64, 2 cores") holds CPUs two to three times apart in speed, so another CPU's
table would mislead every search silently. On a CPU that no shipped table names, the first search of a
space here times a kit of whole networks end to end on this machine (``KIT_NETWORKS``, with the
reference table's own runtime settings; tens of seconds) and fits a profile from them
(``fit_profile``), for a device named after this CPU (``local_device_name``). The service and the CLI
store it as that device's profile and use it by default from then on; ``NAS_DEFAULT_DEVICE`` names
another default instead.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from nas.latency.fit import fit_profile
from nas.latency.schema import Profile
from nas.latency.shipped import (
    DEFAULT_DEVICE,
    host_cpu,
    local_device_name,
    reference_table,
)

KIT_NETWORKS = 20
Timer = Callable[[Profile, Sequence[str], Callable[[int], None]], np.ndarray]


def is_local(device: str) -> bool:
    """Whether ``device`` is this machine's own fitted device (made here on first need)."""
    return device == local_device_name()


def _time_here(reference: Profile, archs: Sequence[str], progress: Callable[[int], None]) -> np.ndarray:
    from nas.latency.profiler import time_like  # imports torch: only when timing

    return time_like(reference, archs, progress)


def calibrate_here(
    space_name: str,
    *,
    networks: int = KIT_NETWORKS,
    progress: Callable[[int, int], None] | None = None,
    timer: Timer | None = None,
) -> Profile:
    """Time a kit of ``networks`` whole networks of ``space_name`` on this machine, end to end in
    interleaved rounds, and fit this machine's profile from them. ``progress(done, total)`` follows
    the timed passes; ``timer`` replaces the clock (tests)."""
    import searchspaces
    from nas.latency.kit import choose_networks

    reference = reference_table(space_name, DEFAULT_DEVICE)
    archs = choose_networks(searchspaces.get(space_name), reference, networks, seed=0)
    total = len(archs) * reference.measurement.rounds
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    measured = (timer or _time_here)(reference, archs, step)
    device = reference.device
    info = {"name": local_device_name(), "hardware": host_cpu(), "runtime": device.runtime,
            "runtime_version": device.runtime_version, "threads": device.threads,
            "batch_size": device.batch_size, "precision": device.precision}
    tool = (f"nas: {len(archs)} kit networks timed end to end on this machine ({device.runtime}, "
            f"{device.threads} thread(s), statistic {reference.measurement.statistic})")
    m = reference.measurement
    timing = {"warmup": m.warmup, "repeats": m.repeats, "rounds": m.rounds, "statistic": m.statistic}
    return fit_profile(space_name, list(zip(archs, measured)), reference=reference, device=info, tool=tool,
                       timing=timing)
