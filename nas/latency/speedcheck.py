"""A speed check (``nas speed-check``): a profile's calibration networks timed again now; the median
ratio of the new times to the recorded ones scales every prediction of the profile."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Callable, Sequence

import numpy as np

from nas import __version__
from nas.errors import InvalidField
from nas.latency.profiler import time_like
from nas.latency.schema import SCHEMA_VERSION, Profile, validate_profile

SPEED_CHECK_NETWORKS = 10  # calibration networks a speed check times again by default


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
        raise InvalidField("networks", f"must be at least 1, got {networks}")
    points = speed_check_points(profile, networks)
    if not points:
        raise InvalidField("calibration.networks", "the profile records no calibration networks with a time "
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
        "tool": f"hwnas {__version__} nas speed-check (nas.latency.speedcheck)",
    }
    return validate_profile(document)
