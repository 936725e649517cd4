"""Latency prediction from a profile: one code path for one candidate and for many.

``predicted_ms = a * (overhead_ms + sum of the candidate's block entries) + b + structure``, with the
entries read under the profile's statistic, each scaled by its block kind's scale where the calibration
has ``kind_scales``, ``a, b`` its calibration, and ``structure`` the sum of the calibration's
coefficients times the candidate's structural features (``space.structure_features``; a fitted
profile may have them, a measured one has none); times ``speed_check.factor`` where the device was
timed again since it was profiled (``nas speed-check``). Once-for-all keeps two near-duplicate
predictors; here ``predict`` is ``predict_many`` on one candidate. A candidate with a block the
profile lacks is an error naming the missing keys, never a silent zero.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

import searchspaces
from nas.latency.schema import MAX_LISTED, Profile


class MissingBlocksError(ValueError):
    """Candidates use block keys that the profile has no entry for; ``missing`` lists them."""

    def __init__(self, profile: Profile, missing: list[str]) -> None:
        self.missing = missing
        shown = ", ".join(missing[:MAX_LISTED])
        more = f" ... and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        super().__init__(
            f"profile of device {profile.device.name!r} ({profile.search_space}, resolutions "
            f"{profile.resolutions}) has no entry for {len(missing)} block key(s): {shown}{more}"
        )


class _Table:
    """The profile's entries as one array indexed by key, and each key's kind (a column)."""

    def __init__(self, profile: Profile) -> None:
        keys = sorted(profile.entries)
        kind_of = profile.kinds()
        self.kinds = sorted(set(kind_of.values()))
        column = {kind: j for j, kind in enumerate(self.kinds)}
        self.index = {key: i for i, key in enumerate(keys)}
        self.values = np.array([profile.value(key) for key in keys], dtype=np.float64)
        self.kind_index = np.array([column[kind_of[key]] for key in keys], dtype=np.intp)
        scales = profile.calibration.kind_scales or {}
        self.scales = np.array([scales.get(kind, 1.0) for kind in self.kinds], dtype=np.float64)


def _table(profile: Profile) -> _Table:
    if profile._table is None:
        profile._table = _Table(profile)
    return profile._table


def _space(profile: Profile, space: searchspaces.SearchSpace | None) -> searchspaces.SearchSpace:
    if space is None:
        return searchspaces.get(profile.search_space)
    if space.name != profile.search_space:
        raise ValueError(
            f"profile is for space {profile.search_space!r}, not {space.name!r}"
        )
    return space


def kind_sums(
    profile: Profile, archs: Sequence[Any], space: searchspaces.SearchSpace | None = None
) -> tuple[list[str], np.ndarray]:
    """The kinds of the profile's blocks, and per candidate the sum of its entries of each kind.

    Candidates may be arch objects or canonical strings of the profile's space. Entries are read
    unscaled; a block the profile lacks raises ``MissingBlocksError``.
    """
    space = _space(profile, space)
    table = _table(profile)
    rows, cols, missing = [], [], set()
    for row, arch in enumerate(archs):
        if isinstance(arch, str):
            arch = space.decode(arch)
        for key in space.blocks(arch, profile.num_classes):
            col = table.index.get(key)
            if col is None:
                missing.add(key)
            else:
                rows.append(row)
                cols.append(col)
    if missing:
        raise MissingBlocksError(profile, sorted(missing))
    sums = np.zeros((len(archs), len(table.kinds)), dtype=np.float64)
    cols = np.asarray(cols, dtype=np.intp)
    np.add.at(sums, (np.asarray(rows, dtype=np.intp), table.kind_index[cols]), table.values[cols])
    return table.kinds, sums


def block_sums(
    profile: Profile, archs: Sequence[Any], space: searchspaces.SearchSpace | None = None
) -> np.ndarray:
    """The estimate of each candidate before ``a`` and ``b``: overhead plus the sum of its block
    entries, each scaled by its kind's scale where the calibration has them."""
    _, sums = kind_sums(profile, archs, space)
    return sums @ _table(profile).scales + profile.overhead_ms


def calibrate(profile: Profile, raw: np.ndarray | float) -> np.ndarray | float:
    """``a * raw + b``, times the speed check's factor where the profile has one."""
    speed = profile.speed_check.factor if profile.speed_check else 1.0
    return speed * (profile.calibration.a * raw + profile.calibration.b)


def structure_terms(
    profile: Profile, archs: Sequence[Any], space: searchspaces.SearchSpace | None = None
) -> np.ndarray | float:
    """Per candidate, the calibration's structure coefficients times its structural features (ms);
    0 where the profile has none."""
    coefficients = profile.calibration.structure
    if not coefficients:
        return 0.0
    space = _space(profile, space)
    names = sorted(coefficients)
    weights = np.array([coefficients[name] for name in names], dtype=np.float64)
    features = np.array(
        [[feats[name] for name in names] for feats in
         (space.structure_features(space.decode(a) if isinstance(a, str) else a) for a in archs)],
        dtype=np.float64,
    ).reshape(len(archs), len(names))
    return features @ weights


def predict_many(
    profile: Profile, archs: Iterable[Any], space: searchspaces.SearchSpace | None = None
) -> np.ndarray:
    """Predicted latency in ms of each candidate (vectorised over the candidates)."""
    archs = list(archs)
    speed = profile.speed_check.factor if profile.speed_check else 1.0
    return calibrate(profile, block_sums(profile, archs, space)) + speed * structure_terms(profile, archs, space)


def predict(profile: Profile, arch: Any, space: searchspaces.SearchSpace | None = None) -> float:
    """Predicted latency in ms of one candidate (an arch object or its canonical string)."""
    return float(predict_many(profile, [arch], space)[0])
