"""Zen-score (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition",
ICCV 2021).

Score: log E_x |f(x) - f(x + 0.01 * e)|_1 + sum over BatchNorm layers of log sqrt(mean running_var),
f the features entering global average pooling, x and e standard Gaussian of the batch's shape (the
data is not used). As in the reference the model is re-initialised Gaussian (conv/linear weights
N(0, 1), biases 0, norm affines 1 and 0), runs in train mode without gradients, and the BN running
variances are read after the two forward passes. A fresh model is used, so no other proxy sees it.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.proxies.common import log_or_floor
from nas.proxies.registry import proxy
from searchspaces.layers import GlobalAvgPool

MIXUP_GAMMA = 1e-2


def gaussian_init(model: nn.Module) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
                if module.weight is not None:
                    nn.init.ones_(module.weight)
                    nn.init.zeros_(module.bias)


def pre_pool_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    pools = [m for m in model.modules() if isinstance(m, GlobalAvgPool)]
    if len(pools) != 1:
        raise ValueError(f"zen needs exactly one GlobalAvgPool in the model, found {len(pools)}")
    captured = []
    handle = pools[0].register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    try:
        model(x)
    finally:
        handle.remove()
    return captured[0]


@proxy("zen", description="log feature sensitivity to a 0.01 Gaussian input perturbation + BN scales",
       data=False)
def zen(context) -> float:
    model = context.fresh_model()
    gaussian_init(model)
    generator = torch.Generator().manual_seed(context.seed)
    x = torch.randn(context.inputs.shape, generator=generator)
    noise = torch.randn(context.inputs.shape, generator=generator)
    with torch.no_grad():
        features = pre_pool_features(model, x)
        mixed = pre_pool_features(model, x + MIXUP_GAMMA * noise)
        expressivity = (features - mixed).abs().flatten(1).sum(1).mean().item()
        bn_term = sum(
            torch.log(torch.sqrt(m.running_var.mean())).item()
            for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.running_var is not None
        )
    return log_or_floor(expressivity) + bn_term
