"""AZ-NAS components: against numpy on constructed features and tiny linear networks, on every space,
and the one shared forward for all three."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import nas.proxies as proxies
import nas.proxies.aznas as aznas  # registers the proxies until nas.proxies imports it
import searchspaces
from tests.proxies.test_engine import light_candidate

NAMES = ["az_expressivity", "az_progressivity", "az_trainability"]


def entropy(feature: np.ndarray) -> float:
    """By hand: channel covariance over batch and positions, normalised eigenvalues, entropy."""
    rows = np.moveaxis(feature, 1, -1).reshape(-1, feature.shape[1]).astype(float)
    rows = rows - rows.mean(0)
    p = np.clip(np.linalg.eigvalsh(rows.T @ rows / len(rows)), 0, None)
    p = p / p.sum()
    return float(-(p * np.log(p + 1e-8)).sum())


class Emit(nn.Module):
    """A block that ignores its input and emits a fixed feature map."""

    def __init__(self, feature: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("feature", feature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature.clone()


def run(build, shape=(8, 3, 4, 4), names=NAMES, seed=0):
    return proxies.compute(build, torch.zeros(shape), None, names, seed=seed)


# -- (a) expressivity of constructed features --------------------------------------------------------
def constructed_features(channels=4):
    """Isotropic: orthonormal centred columns scaled by sqrt(P) (covariance exactly I); rank one:
    every channel a multiple of one centred vector; graded: covariance diag(1, 2, 3, 4)."""
    positions = 8 * 4 * 4
    a = np.random.default_rng(0).standard_normal((positions, channels))
    q, _ = np.linalg.qr(a - a.mean(0))  # combinations of centred columns stay centred
    iso = q * math.sqrt(positions)
    rank_one = np.outer(iso[:, 0], [1.0, -2.0, 0.5, 3.0])
    graded = iso * np.sqrt([1.0, 2.0, 3.0, 4.0])
    as_map = lambda rows: np.moveaxis(rows.reshape(8, 4, 4, channels), -1, 1)  # noqa: E731
    return as_map(iso), as_map(rank_one), as_map(graded)


def test_entropy_of_known_covariances():
    iso, rank_one, graded = constructed_features()
    p = np.array([1.0, 2.0, 3.0, 4.0]) / 10
    assert entropy(iso) == pytest.approx(math.log(4), abs=1e-6)  # uniform spectrum
    assert entropy(rank_one) == pytest.approx(0.0, abs=1e-6)  # one non-zero eigenvalue
    assert entropy(graded) == pytest.approx(float(-(p * np.log(p)).sum()), abs=1e-6)
    for feature in (iso, rank_one, graded):
        assert aznas.spectral_entropy(torch.tensor(feature, dtype=torch.float32)) == pytest.approx(
            entropy(feature), abs=1e-5)
    tokens = np.moveaxis(graded, 1, -1).reshape(8, 16, 4)  # (N, L, C) reads the same positions
    assert aznas.spectral_entropy(torch.tensor(tokens)) == pytest.approx(entropy(graded), abs=1e-9)


def test_expressivity_and_progressivity_of_emitted_features():
    iso, rank_one, graded = (torch.tensor(f, dtype=torch.float32) for f in constructed_features())
    scores = run(lambda: nn.Sequential(Emit(iso), Emit(rank_one), Emit(graded)))
    e = [entropy(f.numpy()) for f in (iso, rank_one, graded)]
    assert scores["az_expressivity"] == pytest.approx(sum(e), abs=1e-5)
    assert scores["az_progressivity"] == pytest.approx(min(e[1] - e[0], e[2] - e[1]), abs=1e-5)
    # the emitted maps do not depend on their inputs: sigma = 0, each pair -1/1e-6 + 2
    assert scores["az_trainability"] == pytest.approx(-1e6 + 2)


def test_zero_variance_is_the_floor():
    scores = run(lambda: nn.Sequential(Emit(torch.ones(8, 4, 4, 4)), Emit(torch.randn(8, 4, 4, 4))))
    assert scores["az_expressivity"] == proxies.FLOOR
    assert scores["az_progressivity"] == proxies.FLOOR


# -- (b) progressivity and trainability of linear networks ------------------------------------------
def weights_and_input(build, shape, seed=0):
    """The weights the proxy scores (fresh seeded build, then the Kaiming re-init) and its input."""
    torch.manual_seed(seed)
    model = build()
    aznas.kaiming_init(model)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator)
    return [m.weight.detach().double().numpy()[:, :, 0, 0] for m in model], x.double().numpy()


def test_linear_two_block_network():
    """f0 = W0 x, f1 = W1 f0 (1x1 convs); the block Jacobian is W1 at every position.

    The estimate M = W1^T (G^T G / P), G the P x C Rademacher signs, so sigma_hat / ||W1|| lies
    within ||G^T G / P - I|| of 1, about 2 sqrt(C / P) = 0.03 for C = 4, P = 64 * 16 * 16 (Bai-Yin);
    we allow 0.06. The score is monotone in sigma away from 1, so it lies between its values at the
    two ends."""
    shape = (64, 3, 16, 16)
    build = lambda: nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), nn.Conv2d(4, 4, 1, bias=False))  # noqa: E731
    (w0, w1), x = weights_and_input(build, shape)
    f0 = np.einsum("oc,nchw->nohw", w0, x)
    f1 = np.einsum("oc,nchw->nohw", w1, f0)
    scores = run(build, shape)
    assert scores["az_progressivity"] == pytest.approx(entropy(f1) - entropy(f0), abs=1e-5)
    assert scores["az_expressivity"] == pytest.approx(entropy(f0) + entropy(f1), abs=1e-5)
    sigma = np.linalg.norm(w1, 2)
    assert abs(sigma - 1) > 0.2  # the seed's weights keep the tolerance band on one side of 1
    ends = [-s - 1 / s + 2 for s in (sigma * 0.94, sigma * 1.06)]
    assert min(ends) <= scores["az_trainability"] <= max(ends)


def test_single_channel_trainability_is_exact():
    """With one channel G^T G / P = mean(g^2) = 1 exactly, so sigma_hat = |w|; a stride-2 block
    gives the same after pixel-unshuffling (the other three sub-positions get zero gradient)."""
    for stride in (1, 2):
        build = lambda: nn.Sequential(nn.Conv2d(3, 1, 1, bias=False), nn.Conv2d(1, 1, 1, stride, bias=False))  # noqa: E731
        (_, w1), _ = weights_and_input(build, (8, 3, 4, 4))
        s = abs(float(w1[0, 0]))
        assert run(build)["az_trainability"] == pytest.approx(-s - 1 / (s + 1e-6) + 2, rel=1e-6)


def test_identity_block_is_the_floor():
    scores = run(lambda: nn.Sequential(nn.Conv2d(3, 4, 1), nn.Identity()))
    assert scores["az_trainability"] == proxies.FLOOR


# -- (c) every space ---------------------------------------------------------------------------------
def light_build(name):
    space, arch = light_candidate(name)
    return (lambda: space.build(arch, num_classes=10)), space.resolution(arch)


@pytest.mark.parametrize("space_name", searchspaces.names())
def test_every_space_gives_finite_floats(space_name):
    build, resolution = light_build(space_name)
    scores = run(build, (4, 3, resolution, resolution))
    assert list(scores) == NAMES
    for name, value in scores.items():
        assert isinstance(value, float) and math.isfinite(value) and value > proxies.FLOOR, (name, value)


def test_nb201_maps_are_the_stem_and_the_17_cells():
    build, _ = light_build("nasbench201")
    features = aznas.block_features(build(), torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape[1:]) for f in features] == (
        [(16, 32, 32)] * 6 + [(32, 16, 16)] * 6 + [(64, 8, 8)] * 6)


# -- (d) one shared computation ------------------------------------------------------------------------
def test_the_three_share_one_forward():
    build, _ = light_build("nasbench201")
    calls = {"build": 0, "forward": 0}

    def counted():
        calls["build"] += 1
        model = build()
        model.register_forward_pre_hook(lambda module, args: calls.__setitem__("forward", calls["forward"] + 1))
        return model

    together = run(counted, (4, 3, 32, 32))
    assert calls == {"build": 1, "forward": 1}
    # alone, a component is the same (seeded, and no other proxy's draws come first)
    assert run(build, (4, 3, 32, 32), names=["az_trainability"]) == {"az_trainability": together["az_trainability"]}
