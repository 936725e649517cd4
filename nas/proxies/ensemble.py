"""Rank ensemble of proxies over a population of candidates (the mean-rank aggregation of
Abdelfattah et al., 2021, and NAS-Bench-Suite-Zero).

For each proxy the population is ranked (0 = worst, 1 = best, linearly in between). Ties share the
average of their ranks. A missing, NaN or infinite score ranks below every finite one (tied with the
other undefined scores); so does the engine's floor value, which is finite and the lowest possible.
The ensemble score of a candidate is the mean of its normalised ranks over the chosen proxies: higher
is better, in [0, 1]. A population of one gets 0.5.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """0-based ranks, ascending, ties averaged; non-finite values rank lowest."""
    data = np.array([v if isinstance(v, (int, float)) and math.isfinite(v) else -np.inf
                     for v in values], dtype=float)
    order = np.argsort(data, kind="mergesort")
    ranks = np.empty(len(data))
    sorted_values = data[order]
    start = 0
    while start < len(data):
        stop = start
        while stop + 1 < len(data) and sorted_values[stop + 1] == sorted_values[start]:
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2
        start = stop + 1
    return ranks


def mean_rank(population: Sequence[Mapping[str, float]], names: Sequence[str]) -> list[float]:
    """The rank-ensemble score of each candidate in ``population`` over the proxies ``names``."""
    if not names:
        raise ValueError("ensemble: name at least one proxy")
    size = len(population)
    if size == 0:
        return []
    if size == 1:
        return [0.5]
    total = np.zeros(size)
    for name in names:
        total += average_ranks([row.get(name, math.nan) for row in population]) / (size - 1)
    return (total / len(names)).tolist()
