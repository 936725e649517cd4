"""Conventions shared by the proxies."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator

from torch import nn

# A proxy whose value is undefined for a network (the log of zero, a singular kernel, an output that
# ignores its input) reports this finite floor: the network ranks below every defined score.
FLOOR = -1e30

WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


@contextlib.contextmanager
def forward_hooks(modules: Iterable[nn.Module], hook: Callable) -> Iterator[None]:
    """``hook`` registered as a forward hook on each of ``modules`` for the ``with`` block."""
    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """The conv and linear layers, whose weights the gradient-based proxies score (the references'
    convention: norms, biases and layer scales are not scored)."""
    return [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS)]


def log_or_floor(value: float) -> float:
    """``log(value)`` for a positive finite value; the floor for zero or a non-number; for an
    overflowed (infinite) value, the log of the largest double, so it still ranks first."""
    if math.isnan(value) or value <= 0:
        return FLOOR
    if math.isinf(value):
        return math.log(1.7976931348623157e308)
    return math.log(value)


def finite_or_floor(value: float) -> float:
    return float(value) if math.isfinite(value) else FLOOR
