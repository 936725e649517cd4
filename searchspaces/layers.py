"""Small building blocks shared by the spaces (written here: no timm or torchvision)."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "hswish": nn.Hardswish, "gelu": nn.GELU}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor``, never more than 10% down (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name](inplace=True) if name != "gelu" else nn.GELU()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}") from None


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias, 'same' padding) -> BatchNorm2d -> optional activation."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        act: str | None = "relu",
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        if act is not None:
            layers.append(activation(act))
        super().__init__(*layers)


class HardSigmoid(nn.Module):
    """relu6(x + 3) / 6, as MobileNetV3 and OFA write it. Equal to ``nn.Hardsigmoid``, but twice
    differentiable in PyTorch (GraSP's double backprop needs that)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.relu6(x + 3.0) / 6.0


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with a hard-sigmoid gate, as in MobileNetV3 (reduction 4, divisor 8)."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        mid = make_divisible(channels / reduction, 8)
        self.reduce = nn.Conv2d(channels, mid, 1)
        # Not in place: the gate's inputs are conv outputs, which gradient hooks (fisher) read.
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(mid, channels, 1)
        self.gate = HardSigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.gate(self.expand(self.act(self.reduce(scale))))
        return x * scale


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    """ShuffleNet's channel shuffle: interleave the channels of ``groups`` groups."""
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width).transpose(1, 2)
    return x.reshape(batch, channels, height, width)


class GlobalAvgPool(nn.Module):
    """Global average pooling to (N, C). Every head pools through this module, so proxies that need
    the pre-pooling features (Zen-score) find them as its input, whatever the space."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))
