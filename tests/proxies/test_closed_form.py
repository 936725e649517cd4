"""Proxies on tiny networks against values computed by hand (numpy, not autograd)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import nas.proxies as proxies

N, D, H, O = 6, 4, 8, 3


def linear_net(relu: bool = False) -> nn.Module:
    layers = [nn.Flatten(), nn.Linear(D, H, bias=False)]
    if relu:
        layers.append(nn.ReLU())
    layers.append(nn.Linear(H, O, bias=False))
    return nn.Sequential(*layers)


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn((N, 1, 2, 2), generator=generator)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    return inputs, targets


def weights(build) -> tuple[np.ndarray, np.ndarray]:
    torch.manual_seed(0)
    model = build()
    return model[1].weight.detach().double().numpy(), model[-1].weight.detach().double().numpy()


def loss_gradients(w1, w2, x, y, relu=False):
    """Cross-entropy gradients of a two-layer net, by hand: returns (pre1, codes, dlogits, g1, g2)."""
    pre1 = x @ w1.T
    codes = (pre1 > 0).astype(float) if relu else np.ones_like(pre1)
    hidden = pre1 * codes
    logits = hidden @ w2.T
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    dlogits = (probs - np.eye(O)[y]) / len(y)
    g2 = dlogits.T @ hidden
    dpre1 = (dlogits @ w2) * codes
    g1 = dpre1.T @ x
    return pre1, codes, dlogits, dpre1, g1, g2


def test_synflow_of_a_linear_net_is_log_twice_the_flow():
    """For f = |W2||W1| 1, each layer's synaptic flow equals R = 1^T |W2||W1| 1, so the score is
    log(2R)."""
    build = lambda: linear_net()  # noqa: E731
    w1, w2 = weights(build)
    flow = np.ones(O) @ np.abs(w2) @ np.abs(w1) @ np.ones(D)
    inputs = torch.zeros((N, 1, 2, 2))
    score = proxies.compute(build, inputs, None, ["synflow"])["synflow"]
    assert score == pytest.approx(math.log(2 * flow), rel=1e-9)


@pytest.mark.parametrize("relu", [False, True])
def test_gradient_proxies_match_hand_computed_gradients(batch, relu):
    inputs, targets = batch
    build = lambda: linear_net(relu)  # noqa: E731
    w1, w2 = weights(build)
    x, y = inputs.flatten(1).double().numpy(), targets.numpy()
    pre1, codes, dlogits, dpre1, g1, g2 = loss_gradients(w1, w2, x, y, relu)
    scores = proxies.compute(build, inputs, targets, ["grad_norm", "snip", "fisher"])

    assert scores["grad_norm"] == pytest.approx(np.linalg.norm(g1) + np.linalg.norm(g2), rel=1e-5)
    assert scores["snip"] == pytest.approx(np.abs(w1 * g1).sum() + np.abs(w2 * g2).sum(), rel=1e-5)
    logits = (pre1 * codes) @ w2.T
    fisher = sum((0.5 * (act * grad) ** 2).mean(0).sum()
                 for act, grad in ((pre1, dpre1), (logits, dlogits)))
    assert scores["fisher"] == pytest.approx(fisher, rel=1e-5)


def test_grad_norm_sums_per_layer_norms_not_one_global_norm(batch):
    inputs, targets = batch
    build = lambda: linear_net()  # noqa: E731
    w1, w2 = weights(build)
    *_, g1, g2 = loss_gradients(w1, w2, inputs.flatten(1).double().numpy(), targets.numpy())
    score = proxies.compute(build, inputs, targets, ["grad_norm"])["grad_norm"]
    global_norm = math.sqrt((g1**2).sum() + (g2**2).sum())
    assert score > global_norm * 1.0001


def test_naswot_is_the_log_determinant_of_the_hamming_kernel(batch):
    inputs, _ = batch
    build = lambda: linear_net(relu=True)  # noqa: E731
    w1, _ = weights(build)
    codes = (inputs.flatten(1).double().numpy() @ w1.T > 0).astype(float)
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    sign, logdet = np.linalg.slogdet(kernel)
    score = proxies.compute(build, inputs, None, ["naswot"])["naswot"]
    if sign == 0:
        assert score == proxies.FLOOR
    else:
        assert score == pytest.approx(logdet, rel=1e-9)


def jacob_score(jacobian: np.ndarray) -> float:
    eigenvalues = np.clip(np.linalg.eigvalsh(np.corrcoef(jacobian)), 0, None)
    return float(-np.sum(np.log(eigenvalues + 1e-5) + 1 / (eigenvalues + 1e-5)))


def test_jacob_cov_of_a_relu_net_matches_hand_jacobians(batch):
    inputs, _ = batch
    build = lambda: linear_net(relu=True)  # noqa: E731
    w1, w2 = weights(build)
    codes = (inputs.flatten(1).double().numpy() @ w1.T > 0).astype(float)
    jacobian = (codes * (np.ones(O) @ w2)) @ w1  # row n: W1^T diag(c_n) W2^T 1
    assert (jacobian.std(1) > 0).all(), "the fixture must give every sample a defined correlation"
    score = proxies.compute(build, inputs, None, ["jacob_cov"])["jacob_cov"]
    assert score == pytest.approx(jacob_score(jacobian), rel=1e-5)


def test_jacob_cov_of_a_linear_net_has_rank_one_correlation(batch):
    """Every sample has the same Jacobian, so the correlation matrix is all ones: eigenvalues N and 0."""
    inputs, _ = batch
    score = proxies.compute(lambda: linear_net(), inputs, None, ["jacob_cov"])["jacob_cov"]
    k = 1e-5
    expected = -(math.log(N + k) + 1 / (N + k) + (N - 1) * (math.log(k) + 1 / k))
    assert score == pytest.approx(expected, rel=1e-6)


def test_jacob_cov_reports_the_floor_when_the_output_ignores_the_input(batch):
    inputs, _ = batch
    build = lambda: nn.Sequential(nn.Flatten(), nn.Linear(D, O), ZeroOut())  # noqa: E731
    assert proxies.compute(build, inputs, None, ["jacob_cov"])["jacob_cov"] == proxies.FLOOR


class ZeroOut(nn.Module):
    def forward(self, x):
        return x * 0


def test_zico_matches_hand_gradients_over_two_half_batches(batch):
    inputs, targets = batch
    build = lambda: linear_net(relu=True)  # noqa: E731
    w1, w2 = weights(build)
    x, y = inputs.flatten(1).double().numpy(), targets.numpy()
    halves = [loss_gradients(w1, w2, x[s], y[s], relu=True)[-2:] for s in (slice(0, 3), slice(3, 6))]
    expected = 0.0
    for layer in range(2):
        g = np.stack([h[layer].ravel() for h in halves])
        std = g.std(0)  # ddof=0
        nonzero = std != 0
        total = (np.abs(g).mean(0)[nonzero] / std[nonzero]).sum()
        expected += math.log(total) if total > 0 else 0.0
    score = proxies.compute(build, inputs, targets, ["zico"])["zico"]
    assert score == pytest.approx(expected, rel=1e-4)


def test_grasp_equals_minus_theta_times_hessian_gradient(batch):
    """Against the explicit Hessian of the loss in the flattened weights (autograd.functional)."""
    inputs, targets = batch
    build = lambda: linear_net(relu=True)  # noqa: E731
    torch.manual_seed(0)
    model = build().double()
    shapes = [model[1].weight.shape, model[-1].weight.shape]
    theta = torch.cat([model[1].weight.flatten(), model[-1].weight.flatten()]).detach()
    x, y = inputs.double(), targets

    def loss(flat):
        w1 = flat[: shapes[0].numel()].view(shapes[0])
        w2 = flat[shapes[0].numel():].view(shapes[1])
        return nn.functional.cross_entropy(torch.relu(x.flatten(1) @ w1.T) @ w2.T, y)

    gradient = torch.autograd.functional.jacobian(loss, theta)
    hessian = torch.autograd.functional.hessian(loss, theta)
    expected = float(-(theta * (hessian @ gradient)).sum())
    score = proxies.compute(build, inputs, targets, ["grasp"])["grasp"]
    assert score == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_params_and_flops_count_the_linear_net(batch):
    inputs, targets = batch
    scores = proxies.compute(lambda: linear_net(), inputs, targets, ["params", "macs"])
    assert scores == {"params": D * H + H * O, "macs": D * H + H * O}
