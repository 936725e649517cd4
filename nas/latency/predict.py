"""Latency prediction from a profile: one code path for one candidate and for many.

``predicted_ms = a * (overhead_ms + sum of the candidate's block entries) + b + structure``, with the
entries read under the profile's statistic, each scaled by its block kind's scale where the calibration
has ``kind_scales``, ``a, b`` its calibration, and ``structure`` the sum of the calibration's
coefficients times the candidate's structural features (``space.structure_features``; a fitted
profile may have them, a measured one has none); times ``speed_check.factor`` where the device was
timed again since it was profiled (``nas speed-check``). Once-for-all keeps two near-duplicate
predictors; here ``predict`` is ``predict_many`` on one candidate. A candidate with a block the
profile lacks is an error naming the missing keys, never a silent zero.

The fast path (issue 24): a canonical string is cut into the parts of ``space.block_parts`` (a
layer's token in its position, a cell's node), each part's blocks are priced once per profile into a
row of kind sums, and a candidate's kind sums are the sum of its parts' rows. Anything that path
cannot price (a bad string, a missing key) goes the per-key way, ``decode`` then ``space.blocks``,
which raises the error the caller would always have had.
"""

from __future__ import annotations

import functools
import threading
import weakref
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


# Parts priced per profile before the cache is dropped (at the start of a call): the default
# ``block_parts`` makes one part per string, which a space of 1e20 candidates would never stop adding.
MAX_PARTS = 1 << 18
# Parts whose block keys are remembered across profiles (MobileNetV3, the most, has 644 per class count).
MAX_PART_KEYS = 1 << 13


class _SlowPath(Exception):
    """The fast path cannot price this batch (a part with a key the profile lacks)."""


class _Parts:
    """The kind sums of the parts of one space priced so far, one row each. Dropping the cache makes
    a new one, so a call under way keeps the rows it read; a lock keeps two threads from one row."""

    def __init__(self, space: searchspaces.SearchSpace, kinds: int) -> None:
        self.space = space
        self.rows: dict[str, int] = {}
        self.sums = np.zeros((256, kinds), dtype=np.float64)
        self.lock = threading.Lock()


class _Table:
    """The profile's entries as one array indexed by key, and each key's kind (a column); and the
    parts (``space.block_parts``) priced so far."""

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
        self.num_classes = profile.num_classes
        self.parts = _Parts(searchspaces.get(profile.search_space), len(self.kinds))

    def parts_for(self, space: searchspaces.SearchSpace) -> _Parts:
        """The priced parts of ``space``, started afresh for another space object of the same name
        (its parts may differ) or when there are more than ``MAX_PARTS``."""
        parts = self.parts
        if parts.space is not space or len(parts.rows) > MAX_PARTS:
            parts = self.parts = _Parts(space, len(self.kinds))
        return parts

    def price(self, parts: _Parts, part: str) -> int:
        """Price one part (``ValueError`` for a part of a bad string) and return its row."""
        cols = [self.index.get(key) for key in _part_keys(parts.space, part, self.num_classes)]
        if None in cols:
            raise _SlowPath
        cols = np.asarray(cols, dtype=np.intp)
        with parts.lock:
            if part in parts.rows:
                return parts.rows[part]
            row = len(parts.rows)
            if row == len(parts.sums):  # readers take rows only once published, from the new array
                parts.sums = np.concatenate([parts.sums, np.zeros_like(parts.sums)])
            np.add.at(parts.sums[row], self.kind_index[cols], self.values[cols])
            parts.rows[part] = row
        return row


@functools.lru_cache(maxsize=MAX_PART_KEYS)
def _part_keys(space: searchspaces.SearchSpace, part: str, num_classes: int) -> list[str]:
    """A part's block keys, remembered across profiles (a new profile prices its parts afresh)."""
    return space.part_blocks(part, num_classes)


# The arrays built per profile object, by ``id``: a profile is a mutable pydantic model, so it has no
# hash for a ``WeakKeyDictionary``; a finalizer drops its entry when the profile is collected, before
# its id can be reused. A copy (``model_copy``) or a profile unpickled in a worker builds its own.
_TABLES: dict[int, _Table] = {}
_TABLES_LOCK = threading.Lock()


def _table(profile: Profile) -> _Table:
    table = _TABLES.get(id(profile))
    if table is None:
        with _TABLES_LOCK:
            table = _TABLES.get(id(profile))
            if table is None:
                table = _TABLES[id(profile)] = _Table(profile)
                weakref.finalize(profile, _TABLES.pop, id(profile), None).atexit = False
    return table


def drop_cache(profile: Profile) -> None:
    """Forget the arrays built for ``profile``, so the next prediction builds them again: after its
    entries were edited in place, or to time a cold start."""
    _TABLES.pop(id(profile), None)


def priced_parts(profile: Profile) -> dict[str, int]:
    """The parts (``space.block_parts``) priced so far for ``profile``, each with its row: empty
    before the first prediction or after ``drop_cache``."""
    table = _TABLES.get(id(profile))
    if table is None:
        return {}
    with table.parts.lock:
        return dict(table.parts.rows)


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
    try:
        return table.kinds, _part_sums(table, table.parts_for(space), archs)
    except (_SlowPath, ValueError, TypeError, KeyError, IndexError, AttributeError):
        pass  # the per-key path prices the batch or raises what it always raised
    return table.kinds, _key_sums(profile, table, archs, space)


def _part_sums(table: _Table, parts: _Parts, archs: Sequence[Any]) -> np.ndarray:
    """Kind sums from the rows of each candidate's parts, pricing parts not seen before."""
    rows, price = parts.rows, table.price
    parts_of, encode, row_of = parts.space.block_parts, parts.space.encode, rows.__getitem__
    flat: list[int] = []
    counts: list[int] = []
    for arch in archs:
        names = parts_of(arch if isinstance(arch, str) else encode(arch))
        counts.append(len(names))
        start = len(flat)
        try:
            flat.extend(map(row_of, names))
        except KeyError:  # a part not priced yet; the rows before it went in already
            del flat[start:]
            flat.extend([rows[name] if name in rows else price(parts, name) for name in names])
    if not counts:
        return np.zeros((0, len(table.kinds)), dtype=np.float64)
    counts_array = np.asarray(counts, dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(counts_array[:-1])])
    sums = np.add.reduceat(parts.sums[np.asarray(flat, dtype=np.intp)], starts, axis=0)
    sums[counts_array == 0] = 0.0  # reduceat gives an empty segment the next part's row
    return sums


def _key_sums(
    profile: Profile, table: _Table, archs: Sequence[Any], space: searchspaces.SearchSpace
) -> np.ndarray:
    """Kind sums the per-key way: decode, ``space.blocks``, one look-up per key."""
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
    return sums


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


def structure_matrix(
    space: searchspaces.SearchSpace, archs: Sequence[Any], names: Sequence[str]
) -> np.ndarray:
    """Per candidate (an arch or its canonical string), its structural features ``names``
    (``space.structure_features``), one column each."""
    rows = [space.structure_features(space.decode(a) if isinstance(a, str) else a) for a in archs]
    return np.array([[row[name] for name in names] for row in rows], dtype=np.float64).reshape(len(archs), len(names))


def structure_terms(
    profile: Profile, archs: Sequence[Any], space: searchspaces.SearchSpace | None = None
) -> np.ndarray | float:
    """Per candidate, the calibration's structure coefficients times its structural features (ms);
    0 where the profile has none."""
    coefficients = profile.calibration.structure
    if not coefficients:
        return 0.0
    names = sorted(coefficients)
    weights = np.array([coefficients[name] for name in names], dtype=np.float64)
    return structure_matrix(_space(profile, space), archs, names) @ weights


def clear_memos() -> None:
    """Forget the block keys remembered per part (for benchmarks of a cold start)."""
    _part_keys.cache_clear()


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
