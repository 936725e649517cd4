"""Rank ensembles of proxies over a population of candidates.

For each proxy the population is ranked; ties share the average of their ranks. A missing, NaN or
infinite score ranks below every finite one (tied with the other undefined scores); so does the
engine's floor value, which is finite and the lowest possible.

- ``ensemble_scores``, the aggregation searches use: the log-rank sum of AZ-NAS (Lee & Ham, CVPR
  2024), sum over the proxies of log(q), q = rank / N with ranks 1 (worst) to N (best). A candidate
  ranked low by any one proxy is pulled down far more than a mean would pull it: a proxy's veto
  counts. Higher is better, at most 0.
- ``mean_rank``: the mean of the ranks normalised to [0, 1] (Abdelfattah et al., 2021, and
  NAS-Bench-Suite-Zero). A population of one gets 0.5.

``log_rank_sum`` is the one combination of per-proxy shares q in (0, 1]: ``ensemble_scores`` and the
search's scorer (which places a candidate among a fixed reference population) both call it.
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


def log_rank_sum(shares: Sequence[float] | np.ndarray) -> float | np.ndarray:
    """Sum of log(q) over the proxies (the last axis); each share q in (0, 1], 1 for the best."""
    return np.log(np.asarray(shares, dtype=float)).sum(axis=-1)


def ensemble_scores(population: Sequence[Mapping[str, float]], names: Sequence[str]) -> list[float]:
    """The ensemble score searches use, for each candidate of ``population`` over the proxies ``names``:
    the log-rank sum (higher is better, at most 0)."""
    if not names:
        raise ValueError("ensemble: name at least one proxy")
    size = len(population)
    shares = np.empty((size, len(names)))
    for column, name in enumerate(names):
        shares[:, column] = (average_ranks([row.get(name, math.nan) for row in population]) + 1) / max(size, 1)
    return np.atleast_1d(log_rank_sum(shares)).tolist() if size else []


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
