"""Gradient norm (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021).

Score: sum over conv/linear layers of the L2 norm of dL/dW (per-layer norms summed, not one global
norm), L the cross-entropy of the batch, train mode. Always >= 0.
"""

from __future__ import annotations

from nas.proxies.registry import proxy


@proxy("grad_norm", description="sum over layers of ||dLoss/dW||_2", labels=True,
       shared=("loss_grads",))
def grad_norm(context) -> float:
    return sum(g.detach().norm().item() for g in context.shared.grads)
