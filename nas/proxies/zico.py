"""ZiCo (Li et al., "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients",
ICLR 2023).

Score: sum over conv/linear layers of log(sum over weights of mean_b |g| / std_b(g)), g the
cross-entropy gradient of each weight on each of B >= 2 batches (the batch is split into B equal
parts), train mode. std uses ddof=0 and weights whose gradient has zero std are skipped, as in the
reference; a layer whose sum is zero adds nothing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nas.proxies.registry import proxy

SPLITS = 2


@proxy("zico", description="sum over layers of log sum mean|g|/std(g) across batches", labels=True)
def zico(context) -> float:
    inputs, targets = context.inputs, context.targets
    if inputs.shape[0] < 2 * SPLITS:
        raise ValueError(f"inputs: zico needs a batch of at least {2 * SPLITS} samples")
    model, layers = context.model, context.layers
    weights = [layer.weight for layer in layers]
    torch.manual_seed(context.seed)
    per_split = []
    for x, y in zip(inputs.chunk(SPLITS), targets.chunk(SPLITS)):
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
        per_split.append([torch.zeros_like(w) if g is None else g.detach() for w, g in zip(weights, grads)])
    score = 0.0
    for layer_grads in zip(*per_split):
        stacked = torch.stack(layer_grads).flatten(1).double()
        std = stacked.std(0, unbiased=False)
        nonzero = std != 0
        total = (stacked.abs().mean(0)[nonzero] / std[nonzero]).sum().item()
        if total > 0:
            score += math.log(total)
    return score
