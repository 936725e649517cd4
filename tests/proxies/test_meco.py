"""MeCo on tiny conv networks against numpy (np.corrcoef, np.linalg.eigvalsh), and on every space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import nas.proxies as proxies
import searchspaces
from nas.proxies.context import ProxyContext
from tests.proxies.test_engine import light_candidate


@pytest.fixture(autouse=True)
def one_thread():
    """Many small eigenproblems: one thread, so a loaded machine's thread contention stays out."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def meco(build, inputs, seed=0) -> float:
    return proxies.compute(build, inputs, None, ["meco"], seed=seed)["meco"]


def least_eigenvalue(feature_map: np.ndarray) -> float:
    """The paper's per-layer value, by hand: channels x pixels, NaN/inf correlations set to 0."""
    rows = feature_map.reshape(feature_map.shape[0], -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.atleast_2d(np.corrcoef(rows))
    corr[~np.isfinite(corr)] = 0.0
    return float(np.linalg.eigvalsh(corr)[0])


def tiny_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU()),
    )


def test_meco_sums_the_least_eigenvalue_of_each_modules_channel_correlation():
    inputs = torch.randn((5, 2, 4, 4), generator=torch.Generator().manual_seed(3))
    # Capture the leaves' outputs for the first sample alone (one train-mode forward, as MeCo does).
    torch.manual_seed(7)
    model = tiny_net()
    leaves = [m for m in model.modules() if not list(m.children())]
    maps = {}
    handles = [m.register_forward_hook(lambda m, a, out: maps.__setitem__(m, out[0].double().numpy()))
               for m in leaves]
    with torch.no_grad():
        model(inputs[:1])
    for handle in handles:
        handle.remove()
    per_leaf = [least_eigenvalue(maps[m]) for m in leaves]
    # The inner Sequential and the model itself return the last ReLU's map again: it counts 3 times.
    expected = sum(per_leaf) + 2 * per_leaf[-1]
    assert meco(tiny_net, inputs, seed=7) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_a_constant_channel_counts_as_zero_correlation_and_one_channel_as_one():
    inputs = torch.randn((3, 1, 4, 4), generator=torch.Generator().manual_seed(1))

    def constant_channel():
        conv = nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            conv.weight[1] = 0.0  # channel 1 is its bias everywhere: its correlations are NaN -> 0
        return nn.Sequential(conv)

    # [[1, 0], [0, 0]] for the conv and again for the Sequential: least eigenvalue 0, twice.
    assert meco(constant_channel, inputs) == 0.0
    # One channel: the 1 x 1 correlation [[1]], for the conv and the Sequential.
    assert meco(lambda: nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)), inputs) == pytest.approx(2.0)
    # One pixel per channel: every correlation undefined, a zero matrix.
    assert meco(lambda: nn.Sequential(nn.Conv2d(1, 3, 4)), inputs) == 0.0
    # No feature map at all (flat outputs only): undefined, the floor.
    flat = lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 3))  # noqa: E731
    assert meco(flat, inputs) == proxies.FLOOR


def test_meco_leaves_the_shared_model_and_the_rng_as_they_were():
    inputs = torch.randn((4, 2, 4, 4), generator=torch.Generator().manual_seed(0))
    context = ProxyContext(tiny_net, inputs, None, frozenset(), seed=0)
    before = {k: v.clone() for k, v in context.model.state_dict().items()}
    torch.manual_seed(11)
    expected_draw = torch.rand(1)
    torch.manual_seed(11)
    first = proxies.get("meco").fn(context)
    assert torch.rand(1) == expected_draw
    for key, value in context.model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert proxies.get("meco").fn(context) == first


@pytest.mark.parametrize("space_name", searchspaces.names())
def test_meco_is_finite_and_deterministic_on_every_space(space_name):
    space, arch = light_candidate(space_name)
    data = proxies.synthetic_data(2, space.resolution(arch), 10, seed=0)
    build = lambda: space.build(arch, num_classes=10)  # noqa: E731
    first = meco(build, data.inputs, seed=1)
    assert isinstance(first, float) and math.isfinite(first) and first != proxies.FLOOR
    assert meco(build, data.inputs, seed=1) == first


def test_more_channels_than_pixels_gives_the_zero_a_solver_finds():
    """C >= P: the centred rows span at most P - 1 dimensions, so the correlation is singular; the
    shortcut's exact 0 is what eigvalsh gives up to round-off."""
    from nas.proxies.meco import least_correlation_eigenvalue

    feature_map = torch.randn(40, 3, 3, generator=torch.Generator().manual_seed(1))
    by_solver = np.linalg.eigvalsh(np.corrcoef(feature_map.double().reshape(40, -1).numpy()))[0]
    assert least_correlation_eigenvalue(feature_map) == 0.0
    assert by_solver == pytest.approx(0.0, abs=1e-9)
