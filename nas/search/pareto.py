"""Pareto fronts and hypervolume on plain numpy arrays; every objective is minimised.

Callers that maximise an objective negate it first (``to_minimise``). A point dominates another when
it is no worse in every objective and better in at least one; equal points do not dominate each
other, so duplicates share a front. Two objectives (the service's usual score and latency) take
an O(n log n) path; more take the O(m n^2) pairwise one.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def as_points(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """A float (n, m) array of finite values; ``ValueError`` otherwise."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1 and array.size == 0:
        return array.reshape(0, 0)
    if array.ndim != 2:
        raise ValueError(f"points: expected an (n, m) array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("points: contain NaN or infinite values")
    return array


def to_minimise(values: np.ndarray, maximise: Sequence[bool]) -> np.ndarray:
    """``values`` with the columns flagged in ``maximise`` negated."""
    values = np.asarray(values, dtype=np.float64)
    signs = np.where(np.asarray(maximise, dtype=bool), -1.0, 1.0)
    if values.ndim != 2 or values.shape[1] != len(signs):
        raise ValueError(f"values: expected {len(signs)} columns, got shape {values.shape}")
    return values * signs


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def pareto_mask(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated points."""
    array = as_points(points)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if array.shape[1] == 1:
        return array[:, 0] == array[:, 0].min()
    if array.shape[1] == 2:
        return _pareto_mask_2d(array)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        # Points that i dominates leave; i itself leaves if anything dominates it.
        no_worse = np.all(array[i] <= array, axis=1) & np.any(array[i] < array, axis=1)
        mask[no_worse] = False
        if np.any(np.all(array <= array[i], axis=1) & np.any(array < array[i], axis=1)):
            mask[i] = False
    return mask


def _pareto_mask_2d(array: np.ndarray) -> np.ndarray:
    # Sort by the first objective, then the second; sweep keeping the best second value seen among
    # points with a strictly smaller first value. Equal points are kept together.
    order = np.lexsort((array[:, 1], array[:, 0]))
    first, second = array[order, 0], array[order, 1]
    mask = np.zeros(len(array), dtype=bool)
    best = np.inf  # best second objective among points strictly before the current first value
    i = 0
    n = len(order)
    while i < n:
        j = i
        while j + 1 < n and first[j + 1] == first[i]:
            j += 1
        # Within a group of equal first values, only those with the group's minimal second value
        # can be non-dominated (sorted, so that is second[i]).
        if second[i] < best:
            k = i
            while k <= j and second[k] == second[i]:
                mask[order[k]] = True
                k += 1
            best = second[i]
        i = j + 1
    return mask


def non_dominated_sort(points: Sequence[Sequence[float]] | np.ndarray) -> list[np.ndarray]:
    """Indices of the points by front: front 0 is the non-dominated set, front 1 is what is
    non-dominated once front 0 is removed, and so on. Each front's indices are ascending."""
    array = as_points(points)
    remaining = np.arange(len(array))
    fronts = []
    while len(remaining):
        mask = pareto_mask(array[remaining])
        fronts.append(remaining[mask])
        remaining = remaining[~mask]
    return fronts


def front_ranks(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Each point's front number (0 = non-dominated)."""
    array = as_points(points)
    ranks = np.empty(len(array), dtype=np.int64)
    for rank, front in enumerate(non_dominated_sort(array)):
        ranks[front] = rank
    return ranks


def hypervolume(points: Sequence[Sequence[float]] | np.ndarray, reference: Sequence[float]) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (minimisation).

    Points not strictly better than the reference in every objective add nothing.
    """
    array = as_points(points)
    ref = np.asarray(reference, dtype=np.float64)
    if array.size == 0:
        return 0.0
    if ref.shape != (array.shape[1],) or not np.isfinite(ref).all():
        raise ValueError(f"reference: expected {array.shape[1]} finite values, got {reference!r}")
    array = array[np.all(array < ref, axis=1)]
    if len(array) == 0:
        return 0.0
    array = array[pareto_mask(array)]
    return float(_hv(np.unique(array, axis=0), ref))


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
    m = points.shape[1]
    if m == 1:
        return float(ref[0] - points[:, 0].min())
    if m == 2:
        # Non-dominated and unique: sorted by the first objective, the second strictly decreases.
        order = np.argsort(points[:, 0])
        xs, ys = points[order, 0], points[order, 1]
        widths = np.diff(np.append(xs, ref[0]))
        return float(np.sum(widths * (ref[1] - ys)))
    # Slice along the last objective: between consecutive levels, the dominated region is the
    # (m-1)-dimensional hypervolume of the points at or below the level.
    order = np.argsort(points[:, -1])
    points = points[order]
    levels = np.append(points[:, -1], ref[-1])
    total = 0.0
    for i in range(len(points)):
        depth = levels[i + 1] - levels[i]
        if depth <= 0:
            continue
        head = points[: i + 1, :-1]
        head = head[pareto_mask(head)]
        total += depth * _hv(np.unique(head, axis=0), ref[:-1])
    return total
