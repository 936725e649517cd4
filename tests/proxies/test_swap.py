"""SWAP: hand-derived counts on tiny networks, the regulariser's formula, the four spaces, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import nas.proxies as proxies
from nas.proxies.swap import distinct_patterns, regularisation_factor, regularised
from tests.proxies.test_engine import light_candidate

# Four samples of two features: (1, 0), (0, 1), (-1, 0), (1, 1).
SAMPLES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0]])
# Seven units; their inputs over the four samples, and so their on-patterns (input > 0):
#   x1        ( 1,  0, -1,  1) -> 1001
#   x2        ( 0,  1,  0,  1) -> 0101
#   -x1       (-1,  0,  1, -1) -> 0010
#   x1 + x2   ( 1,  1, -1,  2) -> 1101
#   -x1 - x2  (-1, -1,  1, -2) -> 0010 (as -x1)
#   0         ( 0,  0,  0,  0) -> 0000 (0 is off)
#   3 x2      ( 0,  3,  0,  3) -> 0101 (as x2)
# Distinct: 1001, 0101, 0010, 1101, 0000 = 5.
WEIGHTS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0], [-1.0, -1.0], [0.0, 0.0], [0.0, 3.0]])


def hand_linear(activation: nn.Module) -> nn.Module:
    linear = nn.Linear(2, 7, bias=False)
    with torch.no_grad():
        linear.weight.copy_(WEIGHTS)
    return nn.Sequential(nn.Flatten(), linear, activation)


def swap_of(build, inputs, seed=0) -> float:
    return proxies.compute(build, inputs, None, ["swap"], seed=seed)["swap"]


@pytest.mark.parametrize("activation", [nn.ReLU, nn.GELU, nn.Hardswish], ids=lambda a: a.__name__)
def test_a_linear_layer_with_known_patterns_gives_the_count_by_hand(activation):
    model = hand_linear(activation())
    assert swap_of(lambda: model, SAMPLES.reshape(4, 1, 1, 2)) == 5.0


def test_units_of_a_feature_map_are_its_channels_at_each_position():
    """A 1x1 conv with weights +1 and -1 on one channel of two positions: four units. Samples
    (1, -1) and (1, 2): ch0 (1,1) at p0, (0,1) at p1; ch1 (0,0) at p0, (1,0) at p1: 4 distinct. Samples
    (1, -1) twice: ch0 (1,1), (0,0); ch1 (0,0), (1,1): 2 distinct."""
    conv = nn.Conv2d(1, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1))
    model = nn.Sequential(conv, nn.ReLU())
    assert swap_of(lambda: model, torch.tensor([[1.0, -1.0], [1.0, 2.0]]).reshape(2, 1, 1, 2)) == 4.0
    assert swap_of(lambda: model, torch.tensor([[1.0, -1.0], [1.0, -1.0]]).reshape(2, 1, 1, 2)) == 2.0


def test_only_the_first_16_samples_of_a_batch_make_patterns():
    """The hand layer's 16 first samples repeat SAMPLES four times (the same five patterns, now 16 bits
    long); a 17th sample, (-1, 1), would split x2 from 3 x2 (on) and -x1 from -x1 - x2 (on, off):
    counted, it would make 6. Only 16 are read, as the paper's batch."""
    model = hand_linear(nn.ReLU())
    first = SAMPLES.repeat(4, 1)
    assert swap_of(lambda: model, first.reshape(16, 1, 1, 2)) == 5.0
    wider = torch.cat([first, torch.tensor([[-1.0, 1.0]])])
    assert swap_of(lambda: model, wider.reshape(17, 1, 1, 2)) == 5.0
    assert distinct_patterns([np.packbits((wider @ WEIGHTS.T > 0).T.numpy(), axis=1)]) == 6


def test_patterns_of_all_activations_are_counted_together():
    """A second ReLU on 2 x (the first's output) repeats its five patterns; a third on (x1 - x2, -x1),
    (1, -1, -1, 0) and (-1, 0, 1, -1), adds 1000 (new) and 0010 (seen): 6."""
    linear = hand_linear(nn.ReLU())

    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second, self.third = linear, nn.ReLU(), nn.ReLU()

        def forward(self, x):
            x1, x2 = x.flatten(1).unbind(1)
            return torch.cat([self.second(2 * self.first(x)), self.third(torch.stack([x1 - x2, -x1], 1))], 1)

    model = Branches()
    assert swap_of(lambda: model, SAMPLES.reshape(4, 1, 1, 2)) == 6.0


def test_no_activation_reports_the_floor_and_the_model_is_left_as_it_was():
    flat = nn.Sequential(nn.Flatten(), nn.Linear(2, 3))
    assert swap_of(lambda: flat, SAMPLES.reshape(4, 1, 1, 2)) == proxies.FLOOR
    model = hand_linear(nn.ReLU())
    before = [p.detach().clone() for p in model.parameters()]
    swap_of(lambda: model, SAMPLES.reshape(4, 1, 1, 2))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())


@pytest.mark.parametrize("samples", [5, 64, 100])
def test_counting_across_activations_agrees_with_numpy_on_the_unpacked_patterns(samples):
    rng = np.random.default_rng(samples)
    first = rng.random((300, samples)) < 0.5
    second = np.concatenate([first[:100], rng.random((50, samples)) < 0.5])  # 100 rows repeat the first's
    expected = len(np.unique(np.concatenate([first, second]), axis=0))
    assert distinct_patterns([np.packbits(first, axis=1), np.packbits(second, axis=1)]) == expected


def test_the_regulariser_follows_its_formula():
    # 250,000 parameters = 250 k; mu 300 k, sigma 5,000 k^2: exp(-(250 - 300)^2 / 5000) = exp(-0.5)
    assert regularisation_factor(250_000, mu=300.0, sigma=5_000.0) == pytest.approx(math.exp(-0.5))
    assert regularised(1_000.0, 250_000, mu=300.0, sigma=5_000.0) == pytest.approx(1_000 * math.exp(-0.5))
    assert regularisation_factor(300_000, mu=300.0, sigma=5_000.0) == 1.0
    with pytest.raises(ValueError, match="sigma"):
        regularisation_factor(1, mu=1.0, sigma=-1.0)


def test_the_regulariser_on_a_network_uses_its_parameter_count():
    """Linear(2, 7) without bias: 14 parameters, 0.014 k; mu 0.004, sigma 0.0002: exp(-0.0001 / 0.0002)."""
    model = hand_linear(nn.ReLU())
    scores = proxies.compute(lambda: model, SAMPLES.reshape(4, 1, 1, 2), None, ["swap", "params"])
    assert scores["params"] == 14.0
    value = regularised(scores["swap"], scores["params"], mu=0.004, sigma=0.0002)
    assert value == pytest.approx(5 * math.exp(-0.5))


def space_swap(name: str, batch: int = 8, seed: int = 0) -> float:
    space, arch = light_candidate(name)
    data = proxies.synthetic_data(batch, space.resolution(arch), 10, seed=0)
    return swap_of(lambda: space.build(arch, num_classes=10), data.inputs, seed=seed)


@pytest.mark.parametrize("space_name", ["nasbench201", "mobilenetv3", "shufflenetv2", "metaformer"])
def test_a_small_network_of_each_space_gets_a_finite_count(space_name):
    value = space_swap(space_name)
    assert isinstance(value, float) and math.isfinite(value)
    assert 1 <= value <= 2**8 and value == int(value)  # at most 2^batch distinct patterns


def test_the_same_seed_gives_the_same_count():
    assert space_swap("nasbench201", batch=16, seed=3) == space_swap("nasbench201", batch=16, seed=3)


def test_swap_and_naswot_share_one_forward():
    calls = []
    linear = nn.Linear(4, 6)
    linear.register_forward_hook(lambda *args: calls.append(1))
    build = lambda: nn.Sequential(nn.Flatten(), linear, nn.ReLU(), nn.Linear(6, 3))  # noqa: E731
    proxies.compute(build, torch.randn(5, 1, 2, 2), None, ["swap", "naswot"])
    assert len(calls) == 1


def test_a_revised_proxy_gets_a_new_score_cache_key(monkeypatch):
    from dataclasses import replace

    from nas.evaluate import ProxyConfig
    from nas.proxies import registry

    with_swap, without = ProxyConfig(proxies=("swap",)), ProxyConfig(proxies=("naswot",))
    keys = with_swap.key(), without.key()
    assert registry.get("swap").revision == 2  # counted over 16 samples: scores of revision 1 are not reused
    monkeypatch.setitem(registry._PROXIES, "swap", replace(registry.get("swap"), revision=3))
    assert with_swap.key() != keys[0] and without.key() == keys[1]
