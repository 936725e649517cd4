"""GraSP (Wang et al., "Picking winning tickets before training by preserving gradient flow",
ICLR 2020), as a NAS proxy (Abdelfattah et al., ICLR 2021).

Score: sum over conv/linear weights of -theta * (H g), g = dL/dtheta and H the Hessian of the
cross-entropy L, via double backprop: H g = d(g_const . g)/dtheta. Sign: the reference's (-theta Hg,
summed, higher is better as reported); it can be negative. The gradient and its graph come from the
engine's shared forward/backward, so GraSP costs one extra backward, not two passes.
"""

from __future__ import annotations

import torch

from nas.proxies.registry import proxy


@proxy("grasp", description="sum of -weight * (Hessian x gradient), double backprop", labels=True,
       shared=("graph",))
def grasp(context) -> float:
    grads = context.shared.grads
    weights = [layer.weight for layer in context.layers]
    pairs = [(w, g) for w, g in zip(weights, grads) if g.requires_grad]
    if not pairs:
        return 0.0
    z = sum((g.detach() * g).sum() for _, g in pairs)
    hessian_grads = torch.autograd.grad(z, [w for w, _ in pairs], allow_unused=True)
    return sum((-w.detach() * hg).sum().item()
               for (w, _), hg in zip(pairs, hessian_grads) if hg is not None)
