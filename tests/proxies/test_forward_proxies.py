"""SWAP, which reads the shared forward, on tiny networks against values derived by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import nas.proxies as proxies
from nas.proxies.swap import distinct_rows, regularised


def test_swap_counts_the_distinct_sample_wise_patterns():
    """Samples (1, -1), (-1, 1), (1, 1); units x1, x2, x1 + x2, 2 x1 before a ReLU. Their patterns over
    the samples: (1, 0, 1), (0, 1, 1), (0, 0, 1) and (1, 0, 1) again: 3 distinct."""
    linear = nn.Linear(2, 4, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]))
    build = lambda: nn.Sequential(nn.Flatten(), linear, nn.ReLU())  # noqa: E731
    inputs = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]).reshape(3, 1, 1, 2)
    assert proxies.compute(build, inputs, None, ["swap"])["swap"] == 3.0
    # the second ReLU's units repeat the first's patterns: still 3
    double = lambda: nn.Sequential(nn.Flatten(), linear, nn.ReLU(), nn.ReLU())  # noqa: E731
    assert proxies.compute(double, inputs, None, ["swap"])["swap"] == 3.0


@pytest.mark.parametrize("samples", [3, 64, 70, 130])
def test_distinct_rows_agree_with_numpy_on_the_unpacked_patterns(samples):
    rng = np.random.default_rng(samples)
    on = rng.random((500, samples)) < 0.5
    on[250:] = on[:250]  # half the rows repeated
    assert distinct_rows(np.packbits(on, axis=1)) == len(np.unique(on, axis=0))


def test_regularised_swap_follows_its_formula():
    assert regularised(100.0, 300_000, mu=300.0, sigma=50.0) == pytest.approx(100.0)
    assert regularised(100.0, 310_000, mu=300.0, sigma=50.0) == pytest.approx(100.0 * math.exp(-100 / 50))
    with pytest.raises(ValueError, match="sigma"):
        regularised(100.0, 1, mu=1.0, sigma=0.0)


def test_swap_and_naswot_share_one_forward():
    calls = []
    linear = nn.Linear(4, 6)
    linear.register_forward_hook(lambda *args: calls.append(1))
    build = lambda: nn.Sequential(nn.Flatten(), linear, nn.ReLU(), nn.Linear(6, 3))  # noqa: E731
    proxies.compute(build, torch.randn(5, 1, 2, 2), None, ["swap", "naswot"])
    assert len(calls) == 1
