"""Grouped convolutions whose double backward costs a few convolutions, not one per group.

GraSP differentiates the loss's weight gradient once more. PyTorch's double backward of a grouped
convolution computes the weight's term (the weight gradient of ``conv_transpose(grad_out, W)``) with
one convolution per group: a depthwise layer of 480 channels makes 480 small calls, and on a
MobileNetV3 candidate these loops were most of GraSP's time. Here the backward of a grouped
convolution is itself a function whose own backward uses ``convolution_backward`` with its groups,
as the first backward does. The values are PyTorch's (``gradgradcheck`` in the tests); only the
number of kernel calls changes.

``cheap_double_backward(model)`` routes the model's grouped ``Conv2d`` layers through it for a
``with`` block; the graph built inside keeps working after the block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Function


class _Settings:
    def __init__(self, stride, padding, dilation, groups) -> None:
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def conv(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, weight, None, self.stride, self.padding, self.dilation, self.groups)

    def backward(self, grad_out, x, weight, mask: tuple[bool, bool]):
        """(grad of x, grad of weight) of ``conv(x, weight)`` given ``grad_out``, where ``mask`` asks."""
        grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
            grad_out, x, weight, None, self.stride, self.padding, self.dilation, False, [0, 0], self.groups,
            [mask[0], mask[1], False])
        return grad_x, grad_w


class _ConvBackward(Function):
    """(grad_out, x, weight) -> (grad of x, grad of weight); its backward is three batched convolutions."""

    @staticmethod
    def forward(ctx, grad_out, x, weight, settings, need_x):
        ctx.settings = settings
        ctx.save_for_backward(grad_out, x, weight)
        ctx.set_materialize_grads(False)  # an output nothing used gets None in backward, not zeros
        grad_x, grad_w = settings.backward(grad_out, x, weight, (need_x, True))
        if need_x:
            return grad_x, grad_w
        placeholder = grad_w.new_zeros(())
        ctx.mark_non_differentiable(placeholder)
        return placeholder, grad_w

    @staticmethod
    def backward(ctx, gg_x, gg_w):
        grad_out, x, weight = ctx.saved_tensors
        s: _Settings = ctx.settings
        need_out, need_x, need_w = ctx.needs_input_grad[:3]
        d_out = d_x = d_w = None
        if need_out:  # grad_x = conv_transpose(grad_out, W) and grad_w are both linear in grad_out
            d_out = s.conv(gg_x, weight) if gg_x is not None else None
            if gg_w is not None:
                d_out = s.conv(x, gg_w) if d_out is None else d_out + s.conv(x, gg_w)
        if need_x and gg_w is not None:  # grad_w is linear in x: its adjoint is conv's input gradient
            d_x = s.backward(grad_out, x, gg_w, (True, False))[0]
        if need_w and gg_x is not None:  # grad_x is linear in W: its adjoint is conv's weight gradient
            d_w = s.backward(grad_out, gg_x, weight, (False, True))[1]
        return d_out, d_x, d_w, None, None


class _GroupedConv(Function):
    @staticmethod
    def forward(ctx, x, weight, settings):
        ctx.settings = settings
        ctx.save_for_backward(x, weight)
        return settings.conv(x, weight)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        grad_x, grad_w = _ConvBackward.apply(grad_out, x, weight, ctx.settings, ctx.needs_input_grad[0])
        return (grad_x if ctx.needs_input_grad[0] else None), grad_w, None


def grouped_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride, padding, dilation,
                   groups: int) -> torch.Tensor:
    """``F.conv2d`` with a cheap double backward (numeric padding only, as the spaces use)."""
    out = _GroupedConv.apply(x, weight, _Settings(stride, padding, dilation, groups))
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def _eligible(module: nn.Module) -> bool:
    return (type(module) is nn.Conv2d and module.groups > 1 and module.padding_mode == "zeros"
            and not isinstance(module.padding, str))


@contextlib.contextmanager
def cheap_double_backward(model: nn.Module) -> Iterator[None]:
    """Inside the block, the model's grouped ``Conv2d`` layers run through ``grouped_conv2d``."""
    patched = [m for m in model.modules() if _eligible(m)]
    for m in patched:
        m._conv_forward = lambda x, weight, bias, m=m: grouped_conv2d(  # noqa: E731
            x, weight, bias, m.stride, m.padding, m.dilation, m.groups)
    try:
        yield
    finally:
        for m in patched:
            del m._conv_forward
