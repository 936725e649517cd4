"""Latency budgets for tests, read off the default profile's own predictions.

The shipped table a search uses by default is the one of this host's CPU (``default_device()``), and
the CPUs of one machine class are two to three times apart, so a budget in fixed milliseconds would
let every candidate through on one host and none on another. A quantile of the predictions splits
the space the same way on every host.
"""

from __future__ import annotations

import math
import random

import numpy as np

import searchspaces
from nas.latency import default_profile, predict_many


def latency_quantile(space: str, q: float, n: int = 200, seed: int = 123) -> float:
    """The ``q`` quantile (0-1) of the default profile's predictions for ``n`` random candidates of
    ``space``, in ms, rounded up to 0.1 ms so it reads well as a flag."""
    searched = searchspaces.get(space)
    rng = random.Random(seed)
    predicted = predict_many(default_profile(space), [searched.sample(rng) for _ in range(n)])
    return math.ceil(float(np.quantile(predicted, q)) * 10) / 10
