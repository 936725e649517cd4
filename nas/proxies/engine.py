"""The proxy engine: ``compute(build, inputs, targets, names) -> {name: score}``.

The engine checks the data, asks the registry what each proxy needs, and gives every proxy one
``ProxyContext`` (``nas.proxies.context``): proxies that read the same forward/backward pass on the
same weights share it, and proxies that change weights get fresh seeded models.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from nas.proxies.common import FLOOR
from nas.proxies.context import ProxyContext
from nas.proxies.registry import get


def compute(
    build: Callable[[], nn.Module],
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    names: Sequence[str],
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Score one architecture with each proxy in ``names``; every value is a finite float, higher
    is better. ``build()`` must return a freshly initialised model; it is called once per group of
    proxies that need their own weights, after seeding torch with ``seed``."""
    specs = [get(name) for name in dict.fromkeys(names)]
    _check_data(inputs, targets, specs)
    captures = frozenset().union(*(spec.shared for spec in specs))
    context = ProxyContext(build, inputs, targets, captures, seed)
    scores = {}
    for spec in specs:
        value = float(spec.fn(context))
        scores[spec.name] = value if math.isfinite(value) else FLOOR
    return scores


def _check_data(inputs, targets, specs) -> None:
    if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4 or not inputs.is_floating_point():
        raise ValueError("inputs: expected a float tensor of shape (N, C, H, W)")
    if not torch.isfinite(inputs).all():
        raise ValueError("inputs: contains NaN or infinite values")
    labelled = [spec.name for spec in specs if spec.needs_labels]
    if labelled:
        if targets is None:
            raise ValueError(f"targets: proxies {labelled} need labels")
        if targets.dim() != 1 or targets.shape[0] != inputs.shape[0] or targets.is_floating_point():
            raise ValueError("targets: expected an integer tensor of shape (N,) matching inputs")
        if targets.min() < 0:
            raise ValueError("targets: labels must be non-negative class indices")
