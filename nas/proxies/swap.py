"""SWAP (Peng et al., "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS", ICLR 2024).

Score: the number of distinct sample-wise activation patterns. Stack, for one batch of N samples,
every unit of every hooked activation (each channel at each position: a "neuron") as a column of an
N x units binary matrix, 1 where the unit is on for that sample. A unit's sample-wise pattern is its
column, a vector of N bits; the score is how many distinct columns there are. It is bounded by the
number of units and by 2^N, and counts a unit that repeats another's pattern (the same tensor through
two activations, a dead unit like another dead unit) once.

The paper's reference (github.com/pym1024/SWAP, ``src/metrics/swap.py``; the ICLR code) hooks every
``nn.ReLU`` whose input is a 4-D feature map, takes the sign of its output (1 where the input is > 0,
else 0), concatenates the flattened maps of all of them per sample and counts the distinct rows of
the transposed matrix with ``torch.unique``. Its demo scores a batch of 16 CIFAR-10 images, 32 times,
each time after re-drawing the conv/linear weights from N(0, 1) (norms at 1 and 0), and reports the
mean. Its follow-up (``pym1024/SWAP_Universal``) also hooks GELU and SiLU and drops the 4-D test.

Ours: the engine's shared train-mode forward (the one NASWOT reads; no gradient is needed, and hooks
are removed after it) records, for every activation in ``nas.proxies.context.ACTIVATIONS`` (ReLU,
ReLU6, h-swish, GELU, SiLU, LeakyReLU), whether each unit's input is > 0, packed eight samples to a
byte. Where this differs from the reference, and why:

- Activations: NASWOT's set, so MobileNetV3's h-swish, MetaFormer's GELU and ReLU6 blocks count as
  ReLU blocks do; "on" is input > 0 for all of them (for ReLU this is the reference's sign of the
  output; for GELU and h-swish it is the sign of the output, which is negative or zero below 0, so
  the reference's three-valued sign is read as two values). Activations on flat (N, features) inputs,
  a classifier head's, are hooked too, as in the universal version; NAS-Bench-201 has none.
- One forward on the project's seeded initialisation, shared with NASWOT, its patterns taken over the
  first 16 samples of the batch (``PATTERN_SAMPLES``, the reference's batch), not a mean over 32
  Gaussian re-initialisations at 16. Measured on the same 200 NAS-Bench-201 cells
  (``bench/swap_protocol.py``), the batch is what matters: 64 samples rank CIFAR-100 accuracy at 0.785,
  their first 16 at 0.866, and the reference's 32 draws at 16 at 0.868 (one draw: 0.867). At 16
  samples the count saturates for large cells (65,377 of 2^16 = 65,536 possible patterns for a cell of
  901,120 units) and grows with the units of small ones, a ranking the wider batch loses. A batch of
  fewer than 16 samples is counted whole.
- The score is the raw count, not its log: the ensemble and the search use ranks, which a log leaves
  unchanged, and the regulariser below multiplies the raw count, as the reference does. A network with
  no hooked activation has no patterns and reports the floor.

Cost: two bytes a unit (16 samples), kept with the shared pass; counting copies them once into 64-bit
words and sorts them. A MobileNetV3 at 224 has about 5 to 5.6 million units per sample, so about 11 MB
of patterns and 45 MB while counting (the largest single activation's unpacked boolean matrix, 0.8
million units x 16 samples, is 13 MB while it is packed). On NAS-Bench-201 cells (up to 0.9 million
units) the count takes well under a second on two cores.

Regularised SWAP (the paper's recommended form for cell spaces, 0.90 Spearman with CIFAR-100 accuracy
on NAS-Bench-201): ``count * exp(-(k - mu)^2 / sigma)``, k the parameters in thousands (all of the
model's parameters, as ``count_params`` counts them), mu and sigma in the same units; note sigma
divides the squared distance directly (no 2 sigma^2). The reference has no defaults: ``regular`` is off
unless the caller passes mu and sigma, which set the size the search is steered to and the tolerance
around it; they describe the population being searched (its size range), not one network. That is
why ``swap`` is the plain count and ``regularised`` / ``regularisation_factor`` are helpers for a
caller that knows its target: a factor centred on a network's own size is 1, and one fixed mu would
rank every space's networks by their distance from one size. On 200 NAS-Bench-201 cells the best mu
and sigma of a grid, chosen against the true accuracy itself, add 0.03 to the 16-sample count (0.897
for the reference's protocol, bench/swap_protocol.py), near the cells' largest size (950-1,250 k of
73-1,073 k): the choice has to come from the population and its target, not from this module
(with the 64-sample count, a mu at the mean size of 1,000 cells, 407 k, lowered CIFAR-100's 0.79 to
0.37-0.54).
"""

from __future__ import annotations

import math

import numpy as np

from nas.proxies.common import FLOOR
from nas.proxies.registry import proxy


# Revision 2: patterns over the batch's first 16 samples (revision 1 counted the whole batch).
@proxy("swap", description="number of distinct sample-wise activation patterns", shared=("patterns",), revision=2)
def swap(context) -> float:
    patterns = context.shared.patterns
    if not patterns or not sum(p.shape[0] for p in patterns):
        return FLOOR
    return float(distinct_patterns(patterns))


def distinct_patterns(patterns: list[np.ndarray]) -> int:
    """The number of distinct rows over a list of (units, bytes) uint8 arrays with the same width
    (each activation's packed patterns), counted together."""
    width = patterns[0].shape[1]
    if any(p.ndim != 2 or p.shape[1] != width or p.dtype != np.uint8 for p in patterns):
        raise ValueError("patterns: expected (units, bytes) uint8 arrays of one width")
    words = -(-width // 8)  # rows padded to whole 64-bit words, in one allocation
    padded = np.zeros((sum(p.shape[0] for p in patterns), words * 8), dtype=np.uint8)
    start = 0
    for p in patterns:
        padded[start:start + p.shape[0], :width] = p
        start += p.shape[0]
    keys = padded.view(np.uint64)
    if words == 1:  # one word a row (up to 64 samples): sort in place, count the changes
        keys = keys[:, 0]
        keys.sort()
        return int(keys.size and 1 + np.count_nonzero(keys[1:] != keys[:-1]))
    return len(np.unique(keys, axis=0))


def regularisation_factor(params: float, mu: float, sigma: float) -> float:
    """The reference's size regulariser ``exp(-(params / 1000 - mu)^2 / sigma)``: mu the target size in
    thousands of parameters, sigma (> 0) its tolerance, in thousands squared."""
    if not sigma > 0:
        raise ValueError("sigma: must be positive")
    return math.exp(-((params / 1e3 - mu) ** 2) / sigma)


def regularised(count: float, params: float, mu: float, sigma: float) -> float:
    """Regularised SWAP: ``count * regularisation_factor(params, mu, sigma)``, with mu and sigma
    chosen by the caller for the population searched (see the module docstring)."""
    return count * regularisation_factor(params, mu, sigma)
