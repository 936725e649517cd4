"""SWAP (Peng et al., "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS", ICLR 2024).

Score: the number of distinct sample-wise activation patterns. Every unit of every activation's input
(each channel at each position) has a pattern: the vector, over the batch's samples, of whether it is
on (input > 0, the sign of a ReLU's output). The reference stacks the patterns of all ReLUs and counts
the distinct ones; so do we, from the engine's shared train-mode forward (the pass NASWOT reads),
with the patterns packed eight samples to a byte and compared as integers, so the count costs a sort.

Where ours differs: the activations hooked are NASWOT's (``ACTIVATIONS``: ReLU, ReLU6, h-swish, GELU,
SiLU, LeakyReLU, each tested for "on" the same way), so that MobileNetV3's h-swish and MetaFormer's
GELU blocks count as ReLU blocks do; the reference hooks ReLU and ReLU6 only.

The regularised SWAP multiplies the count by ``exp(-(k - mu)^2 / sigma)``, k the parameters in
thousands, which steers a search toward a model size (mu) with a tolerance (sigma) the user chooses:
``regularised`` computes it. It is not registered as a proxy of its own: its mu and sigma are a
target size, not a property of the network, and a fixed choice would rank every space's networks by
distance from one size.
"""

from __future__ import annotations

import math

import numpy as np

from nas.proxies.common import FLOOR
from nas.proxies.registry import proxy


@proxy("swap", description="number of distinct sample-wise activation patterns", shared=("patterns",))
def swap(context) -> float:
    patterns = context.shared.patterns
    if not patterns:
        return FLOOR
    return float(distinct_rows(np.concatenate(patterns)))


def distinct_rows(packed: np.ndarray) -> int:
    """The number of distinct rows of a (units, bytes) uint8 array."""
    width = -(-packed.shape[1] // 8) * 8  # pad each row to whole 64-bit words
    words = np.zeros((packed.shape[0], width), dtype=np.uint8)
    words[:, :packed.shape[1]] = packed
    keys = words.view(np.uint64)
    return len(np.unique(keys[:, 0] if keys.shape[1] == 1 else keys, axis=0))


def regularised(count: float, params: float, mu: float, sigma: float) -> float:
    """SWAP regularised toward a model size: ``count * exp(-(params / 1000 - mu)^2 / sigma)``, the
    reference's form with mu (thousands of parameters) and sigma (> 0) chosen by the user."""
    if not sigma > 0:
        raise ValueError("sigma: must be positive")
    return count * math.exp(-((params / 1e3 - mu) ** 2) / sigma)
