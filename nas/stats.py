"""Rank correlations (Spearman's rho, Kendall's tau-b) on plain sequences, without SciPy."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nas.proxies.ensemble import average_ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the average ranks (ties averaged)."""
    rx, ry = average_ranks(x), average_ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def kendall(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b (accounts for ties in either sequence); O(n^2) memory in blocks of rows."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("kendall: needs two sequences of the same length, at least 2")
    concordant = discordant = ties_x = ties_y = 0
    for start in range(0, len(a), 512):
        da = np.sign(a[start:start + 512, None] - a[None, :])
        db = np.sign(b[start:start + 512, None] - b[None, :])
        rows = np.arange(start, min(start + 512, len(a)))[:, None]
        upper = np.arange(len(a))[None, :] > rows  # each pair once
        product = (da * db)[upper]
        concordant += int((product > 0).sum())
        discordant += int((product < 0).sum())
        ties_x += int(((da == 0) & (db != 0))[upper].sum())
        ties_y += int(((db == 0) & (da != 0))[upper].sum())
    denominator = np.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return float((concordant - discordant) / denominator) if denominator else float("nan")
