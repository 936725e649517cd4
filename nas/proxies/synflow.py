"""SynFlow (Tanaka et al., "Pruning neural networks without any data by iteratively conserving
synaptic flow", NeurIPS 2020), as a NAS proxy (Abdelfattah et al., ICLR 2021).

Score: log of sum over conv/linear weights of |theta * dR/dtheta|, R = sum of the outputs for an
all-ones input of batch 1. As in the reference: every parameter is made non-negative, normalisation
layers are bypassed (BatchNorm, and GroupNorm/LayerNorm too: on a constant input they would zero the
signal) and the pass runs in float64. The model is a fresh copy that is discarded afterwards, so no
other proxy sees the changed weights. Eval mode so dropout does not make the score random. Raw
values reach 1e60 and beyond, hence the log; a zero sum reports the floor, an overflow log(max double).
"""

from __future__ import annotations

import torch
from torch import nn

from nas.proxies.common import log_or_floor, weight_layers
from nas.proxies.registry import proxy

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)


def bypass_norms(model: nn.Module) -> None:
    """Replace every normalisation layer by an identity, in place."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, NORMS):
                setattr(parent, name, nn.Identity())


@proxy("synflow", description="log synaptic flow of |weights| on an all-ones input (data-free)",
       data=False)
def synflow(context) -> float:
    model = context.fresh_model()
    bypass_norms(model)
    model = model.double().eval()
    with torch.no_grad():
        for param in model.parameters():
            param.abs_()
    ones = torch.ones((1, *context.inputs.shape[1:]), dtype=torch.float64)
    model(ones).sum().backward()
    total = 0.0
    for layer in weight_layers(model):
        if layer.weight.grad is not None:
            total += (layer.weight * layer.weight.grad).abs().sum().item()
    return log_or_floor(total)
