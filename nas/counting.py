"""Parameter and multiply-add counts, with PyTorch's own ``torch.utils.flop_counter``.

Convention: a multiply-add (MAC) is one multiplication plus one addition, so MACs = FLOPs / 2 as the
flop counter reports them (it counts convolutions, matrix products and attention; not element-wise
ops, norms or pooling, which is the convention papers use when they quote MACs).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode


def _cpu_sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    # The counter hands formulas shapes, not tensors.
    # PyTorch registers formulas for the CUDA attention kernels only; the CPU flash kernel computes
    # the same products, so it gets the same formula.
    return flop_counter.sdpa_flop_count(query, key, value)


_EXTRA_FORMULAS = {}
if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
    _EXTRA_FORMULAS[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_sdpa_flops


def count_params(model: nn.Module) -> int:
    """The number of parameters (trainable or not) of ``model``."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of ``model`` on a zero tensor of ``input_shape`` (NCHW)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS) as counter:
            model(torch.zeros(input_shape))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2
