"""SNIP (Lee et al., "SNIP: Single-shot network pruning based on connection sensitivity", ICLR 2019),
as a NAS proxy (Abdelfattah et al., ICLR 2021).

Score: sum over conv/linear weights of |theta * dL/dtheta|, L the cross-entropy of the batch, model
in train mode. Not logged (the reference sums raw saliencies); always >= 0.
"""

from __future__ import annotations

from nas.proxies.registry import proxy


@proxy("snip", description="sum |weight * dLoss/dweight| (connection sensitivity)", labels=True,
       shared=("loss_grads",))
def snip(context) -> float:
    grads = context.shared.grads
    return sum((layer.weight.detach() * g.detach()).abs().sum().item()
               for layer, g in zip(context.layers, grads))
