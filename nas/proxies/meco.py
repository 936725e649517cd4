"""MeCo (Jiang et al., "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum
Eigenvalue of Correlation", NeurIPS 2023).

Score: the sum over modules of the smallest eigenvalue of the Pearson correlation matrix of the
module's output feature map for one sample, taken as C rows (channels) of H*W observations (pixels).
One train-mode forward of the first sample of the batch, at the model's initial weights, no labels.

The paper's conventions (HamsterMimi/MeCo, correlation/NAS_Bench_201.py, the script behind the
published NAS-Bench-201 numbers: one CIFAR-10 training image at 32x32, batch size 1, seed 42):
every module is hooked (``named_modules()``: the model itself, containers and leaves alike, so a
feature map that a container passes through from its last child counts once per module returning
it); each hook reads ``output[0]`` (the first, there the only, sample) reshaped to (first dim, -1);
NaN and infinite correlations (a constant channel, or a single pixel) are set to 0; the smallest
real part of the eigenvalues is taken; NaN or infinite per-module values are dropped and the rest
summed. A flat (N, F) output gives an all-NaN, hence zero, matrix there: it adds 0. MeCo-opt (the
same file) correlates 8 channels drawn at random and scales their least eigenvalue by C / 8; it is
not offered here.

Where ours differs: only 4-D (N, C, H, W) tensor outputs are read. Flat outputs are skipped (the
reference adds 0 for them, so the sum is the same); 3-D token outputs (the attention's q/k/v and
projection linears of MetaFormer, (N, tokens, C)) are skipped, where the reference would correlate
tokens over features (an L x L matrix), not channels over pixels; the attention module's own output
is a 4-D feature map and is read; tuple outputs are skipped. A one-channel map gives the 1 x 1
matrix [[1]] (or [[0]] if constant) where the reference's eigensolver fails on torch.corrcoef's
0-d result. The eigenvalues are those of the symmetric matrix in float64 (``eigvalsh``; the
reference takes real parts of a general float32 eigensolver's). A module returning the very tensor
another returned (a container and its last child) counts again without recomputing it. The forward
reads ``context.model`` without gradients; its buffers (norm running statistics) and the global
RNG are restored afterwards, so the other proxies see the same model. If a one-sample train-mode
forward is impossible (a norm that needs more than one value per channel), the whole batch is
forwarded and its first sample read. No module read, or no finite value, reports the floor.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nas.proxies.common import FLOOR, forward_hooks
from nas.proxies.registry import proxy


@proxy("meco", description="sum over modules of the least eigenvalue of one sample's channel correlation")
def meco(context) -> float:
    model = context.model
    saved = {name: buffer.clone() for name, buffer in model.named_buffers()}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(context.seed)
            try:
                values = _min_eigenvalues(model, context.inputs[:1])
            except ValueError:  # e.g. "Expected more than 1 value per channel when training"
                values = _min_eigenvalues(model, context.inputs)
    finally:
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(saved[name])
    finite = [value for value in values if math.isfinite(value)]
    return float(sum(finite)) if finite else FLOOR


def _min_eigenvalues(model: nn.Module, inputs: torch.Tensor) -> list[float]:
    """One no-grad forward; per module with a 4-D output, in call order, the least eigenvalue of the
    channel correlation of the first sample's feature map."""
    values: list[float] = []
    seen: dict[int, tuple[torch.Tensor, float]] = {}  # id(output) -> (output kept alive, value)

    def record(module, args, output):
        if not isinstance(output, torch.Tensor) or output.dim() != 4:
            return
        key = id(output)
        if key not in seen:
            seen[key] = (output, least_correlation_eigenvalue(output[0]))
        values.append(seen[key][1])

    with forward_hooks(model.modules(), record), torch.no_grad():
        model(inputs)
    return values


def least_correlation_eigenvalue(feature_map: torch.Tensor) -> float:
    """Smallest eigenvalue of the C x C Pearson correlation of a (C, H, W) map's channels over its
    pixels, in float64; undefined correlations (constant channel, one pixel) count as 0."""
    rows = feature_map.detach().double().reshape(feature_map.shape[0], -1)
    if rows.shape[0] >= rows.shape[1] >= 2:
        # C channels over P < C + 1 pixels: centred, the rows span at most P - 1 dimensions, so the
        # C x C correlation is singular and its least eigenvalue is 0 (exactly; a solver gives 0 up to
        # round-off, at O(C^3) cost: most of MobileNetV3's wide, 7 x 7 layers)
        return 0.0
    if rows.shape[1] < 2:
        corr = torch.zeros(rows.shape[0], rows.shape[0], dtype=torch.float64)
    else:
        corr = torch.atleast_2d(torch.corrcoef(rows))
        corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])
