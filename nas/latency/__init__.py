"""Device latency profiles: the format, the profiler, the predictor and the shipped tables.

Entry points: ``load_profile(path)``, ``default_profile(space_name)`` (the shipped table of this host's
CPU, ``default_device()``), ``predict(profile, arch)``, ``predict_many(profile, archs)``,
``profile_space(...)`` (what ``nas profile`` runs) and ``fit_profile(space, measurements)`` (a profile
fitted from whole networks timed end to end, what ``nas devices fit`` runs); ``recalibrate``,
``merge_sessions`` and ``speed_check`` (what ``nas recalibrate``, ``nas merge-profiles`` and
``nas speed-check`` run).
"""

from __future__ import annotations

import os

from nas.errors import Problem
from nas.latency.calibration import recalibrate
from nas.latency.fit import MINIMUM_MEASUREMENTS, fit_profile
from nas.latency.measurements import MeasurementError
from nas.latency.predict import MissingBlocksError, block_sums, predict, predict_many
from nas.latency.profiler import profile_space
from nas.latency.schema import SCHEMA_VERSION, Profile, ProfileError, validate_profile
from nas.latency.sessions import merge_sessions, session_speeds
from nas.latency.shipped import (
    DEFAULT_DEVICE,
    default_device,
    default_profile,
    read_shipped,
    shipped_files,
)
from nas.latency.speedcheck import SPEED_CHECK_NETWORKS, speed_check, speed_check_points


def load_profile(path: str | os.PathLike) -> Profile:
    """Read and check a profile file; ``ProfileError`` lists every problem, naming the file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ProfileError.of(Problem("", f"cannot read the file: {error.strerror}"), source=f"profile {path}") from None
    return validate_profile(data, source=f"profile {path}")


__all__ = [
    "DEFAULT_DEVICE",
    "MINIMUM_MEASUREMENTS",
    "MeasurementError",
    "MissingBlocksError",
    "Profile",
    "ProfileError",
    "SCHEMA_VERSION",
    "SPEED_CHECK_NETWORKS",
    "block_sums",
    "default_device",
    "default_profile",
    "fit_profile",
    "load_profile",
    "merge_sessions",
    "predict",
    "predict_many",
    "profile_space",
    "read_shipped",
    "recalibrate",
    "session_speeds",
    "shipped_files",
    "speed_check",
    "speed_check_points",
    "validate_profile",
]
