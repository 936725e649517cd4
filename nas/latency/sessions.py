"""Merging several sessions of ``nas profile`` on one device into one profile (``nas merge-profiles``)."""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from nas import __version__
from nas.errors import Problem
from nas.latency.calibration import calibrated
from nas.latency.schema import Profile, ProfileError, validate_profile

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
    ``bench/machine_drift.py``), so one session's table is that moment's speed. Merged, every entry,
    the overhead and every network's measured time are the median over the sessions, and the
    calibration is fitted again on those medians: the table describes the device's typical speed.
    The sessions must share the device, the settings and the networks (same ``--seed``,
    ``--calibration`` and ``--validation``); ``ProfileError`` lists every difference, naming the
    field and the session. ``names`` label the sessions in messages.
    """
    names = list(names) if names is not None else [f"session {i + 1}" for i in range(len(profiles))]
    if len(profiles) < 2:
        raise ProfileError.of(Problem("", f"need at least 2 sessions to merge, got {len(profiles)}"), source="merge")
    problems = _merge_problems(profiles, names)
    if problems:
        raise ProfileError.of(*problems, source="merge")
    first = profiles[0]
    sessions = sorted(p.measurement.measured_at for p in profiles)
    durations = [p.measurement.duration_s for p in profiles]
    document = json.loads(first.to_json())
    document["entries"] = _median_entries(profiles)
    document["overhead_ms"] = round(_median([p.overhead_ms for p in profiles]), 4)
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


def _merge_problems(profiles: Sequence[Profile], names: Sequence[str]) -> list[Problem]:
    """Why the sessions cannot be merged, each difference naming the field and the session (a session's
    own problem is at the session, as the user named it); none if they can."""
    first, problems = profiles[0], []
    for name, profile in zip(names, profiles):
        if profile.speed_check:
            problems.append(Problem(name, "has a speed check; merge the sessions as `nas profile` wrote them"))
        if profile.measurement.sessions:
            problems.append(Problem(name, f"already merged from {len(profile.measurement.sessions)} sessions; "
                                          "merge the sessions' own files instead"))
    for field, value in _SAME:
        for name, profile in zip(names[1:], profiles[1:]):
            problems += _differences(field, value(first), value(profile), names[0], name)
    if any(p.entries.keys() != first.entries.keys() for p in profiles[1:]):
        problems.append(Problem("entries", "the sessions do not time the same block keys"))
    return problems


def _median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, float)))


def _median_entries(profiles: Sequence[Profile]) -> dict[str, dict[str, float | int]]:
    """Every entry's statistics as the median over the sessions, its count as their sum."""
    entries = {}
    for key in profiles[0].entries:
        rows = [p.entries[key] for p in profiles]
        entries[key] = {
            "p50": round(_median([r.p50 for r in rows]), 4), "mean": round(_median([r.mean for r in rows]), 4),
            "std": round(_median([r.std for r in rows]), 4), "count": sum(r.count for r in rows),
            **({} if any(r.min is None for r in rows) else {"min": round(_median([r.min for r in rows]), 4)}),
        }
    return entries


def _differences(field: str, want: Any, got: Any, first: str, name: str) -> list[Problem]:
    if want == got:
        return []
    if isinstance(want, dict) and isinstance(got, dict):
        return [problem for key in sorted(want.keys() | got.keys())
                for problem in _differences(f"{field}.{key}", want.get(key), got.get(key), first, name)]
    if field.endswith(".networks"):
        return [Problem(field, f"{name} timed other networks than {first} "
                               "(profile every session with the same --seed, --calibration and --validation)")]
    return [Problem(field, f"{got!r:.60} in {name}, {want!r:.60} in {first}")]


def session_speeds(profiles: Sequence[Profile], merged: Profile) -> list[float | None]:
    """Per session: the median over its networks of (its time / the merged time); 1.05 is 5% slower.
    None for a session whose profile recorded no networks."""
    def times(profile: Profile) -> np.ndarray:
        return np.array([n.measured_ms for n in profile.calibration.networks + profile.validation.networks])

    typical = times(merged)
    if not len(typical) or not np.all(typical > 0):
        return [None] * len(profiles)
    return [float(np.median(times(p) / typical)) for p in profiles]
