"""The grouped convolution with a cheap double backward gives PyTorch's values: first and second
derivatives (gradcheck, gradgradcheck in float64; their fast mode, random projections), and GraSP on a
depthwise network."""

from __future__ import annotations

import contextlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

import nas.proxies as proxies
import nas.proxies.context as context
from nas.proxies.grouped_conv import cheap_double_backward, grouped_conv2d


@pytest.mark.parametrize("shape", [
    # in, out, groups, stride, padding, dilation
    (4, 4, 4, 1, 1, 1),  # depthwise
    (6, 4, 2, 2, 1, 1),  # two groups, strided
    (4, 8, 4, 1, 2, 2),  # channel multiplier 2, dilated
    (3, 3, 3, 2, 0, 1),  # depthwise, strided, unpadded: the input's last row unused
])
def test_first_and_second_derivatives_are_pytorchs(shape):
    c_in, c_out, groups, stride, padding, dilation = shape
    torch.manual_seed(0)
    x = torch.randn(1, c_in, 5, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(c_out, c_in // groups, 3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(c_out, dtype=torch.float64, requires_grad=True)

    def conv(x, weight, bias):
        return grouped_conv2d(x, weight, bias, (stride,) * 2, (padding,) * 2, (dilation,) * 2, groups)

    expected = F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    assert torch.allclose(conv(x, weight, bias), expected)
    assert gradcheck(conv, (x, weight, bias), fast_mode=True)
    assert gradgradcheck(conv, (x, weight, bias), fast_mode=True)


def test_an_input_without_grad_still_gets_the_weights_second_derivative():
    torch.manual_seed(1)
    x = torch.randn(1, 4, 5, 5, dtype=torch.float64)
    weight = torch.randn(4, 1, 3, 3, dtype=torch.float64, requires_grad=True)
    assert gradgradcheck(lambda w: grouped_conv2d(x, w, None, (1, 1), (1, 1), (1, 1), 4), (weight,), fast_mode=True)


def depthwise_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5),
    )


def test_grasp_is_the_same_with_and_without_it(monkeypatch):
    torch.manual_seed(2)
    inputs, targets = torch.randn(6, 3, 8, 8), torch.randint(0, 5, (6,))
    names = ["grasp", "snip", "grad_norm"]
    ours = proxies.compute(depthwise_net, inputs, targets, names)
    monkeypatch.setattr(context, "cheap_double_backward", lambda model: contextlib.nullcontext())
    stock = proxies.compute(depthwise_net, inputs, targets, names)
    assert ours == pytest.approx(stock, rel=1e-5)
    assert ours["grasp"] != 0.0


def test_the_patch_is_undone_after_the_block():
    model = depthwise_net()
    grouped = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    with cheap_double_backward(model):
        assert all("_conv_forward" in vars(m) for m in grouped)
    assert not any("_conv_forward" in vars(m) for m in model.modules())
