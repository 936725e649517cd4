"""The proxy engine: ``compute(build, inputs, targets, names) -> {name: score}``.

Proxies that read the same forward/backward pass on the same weights share it: one train-mode
forward of the batch records ReLU codes (NASWOT) and conv/linear outputs (fisher); one backward of the
cross-entropy loss gives the weight gradients (snip, grad_norm, grasp's first gradient) and, with
``create_graph`` when grasp is asked for, the graph grasp differentiates again; one more backward
of the summed logits gives the input Jacobian (jacob_cov). Proxies that change weights (synflow,
zen) get a fresh model from ``build()``, seeded, so no proxy sees another's changes.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from nas.proxies.common import FLOOR, weight_layers
from nas.proxies.registry import get

# Activation modules whose inputs give NASWOT's binary codes (the reference hooks ReLUs; other
# activations are piecewise the same test, "is the unit on").
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.GELU, nn.SiLU, nn.LeakyReLU)


@dataclass
class SharedPass:
    grads: list[torch.Tensor] = field(default_factory=list)  # per weight layer, maybe with graph
    fisher: list[torch.Tensor] = field(default_factory=list)  # per weight layer, per channel
    kernel: np.ndarray | None = None  # NASWOT's Hamming kernel, float64
    jacobian: torch.Tensor | None = None  # d(sum logits)/d(inputs)


class ProxyContext:
    """What a proxy reads: the data, fresh seeded models, and the shared pass (run once, lazily)."""

    def __init__(
        self,
        build: Callable[[], nn.Module],
        inputs: torch.Tensor,
        targets: torch.Tensor | None,
        captures: frozenset[str],
        seed: int,
    ) -> None:
        self.build = build
        self.inputs = inputs
        self.targets = targets
        self.captures = captures
        self.seed = seed

    def fresh_model(self) -> nn.Module:
        """A newly built model in train mode (the references score in train mode), seeded."""
        torch.manual_seed(self.seed)
        model = self.build()
        if not isinstance(model, nn.Module):
            raise TypeError(f"build() must return an nn.Module, got {type(model).__name__}")
        return model.train()

    @cached_property
    def model(self) -> nn.Module:
        """The model the shared pass runs on; proxies that only read it may use it too."""
        return self.fresh_model()

    @cached_property
    def layers(self) -> list[nn.Module]:
        return weight_layers(self.model)

    @cached_property
    def shared(self) -> SharedPass:
        torch.manual_seed(self.seed)  # dropout masks do not depend on which proxy came first
        return run_shared_pass(self.model, self.layers, self.inputs, self.targets, self.captures)


def run_shared_pass(
    model: nn.Module,
    layers: list[nn.Module],
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    captures: frozenset[str],
) -> SharedPass:
    handles = []
    fisher: dict[int, torch.Tensor] = {}
    kernel = np.zeros((inputs.shape[0], inputs.shape[0]))
    recording = {"fisher": "fisher" in captures}

    if "codes" in captures:
        def record_codes(module, args):
            codes = (args[0].detach().flatten(1) > 0).float()
            units = codes.shape[1]
            on = codes.sum(1, keepdim=True)
            # c c^T + (1-c)(1-c)^T = 2 c c^T - on_i - on_j + units: one matmul instead of two
            gram = 2 * (codes @ codes.T) - on - on.T + units
            kernel[:] += gram.double().numpy()

        handles += [
            m.register_forward_pre_hook(record_codes) for m in model.modules()
            if isinstance(m, ACTIVATIONS)
        ]

    if "fisher" in captures:
        def record_fisher(index):
            def hook(module, args, output):
                # Linear outputs are small and may be activated in place (MobileNetV3's head), so
                # keep a copy; conv outputs feed a norm or an out-of-place op in every space, and
                # the version check below proves it.
                # The closure holds ``act`` only, never ``output``, and keeps no graph (grad is
                # detached below): either would tie a reference cycle through the autograd graph.
                # Only the cyclic GC frees such cycles, and with few Python objects and large
                # tensors it seldom runs (a bench worker grew to 12 GB).
                is_linear = isinstance(module, nn.Linear)
                act = output.detach().clone() if is_linear else output.detach()
                version = act._version  # a detached view shares the version counter

                def on_grad(grad):
                    if not recording["fisher"]:
                        return
                    if not is_linear and act._version != version:
                        raise RuntimeError(f"fisher: the output of {module} was modified in place")
                    act_grad = act * grad.detach()
                    if act_grad.dim() > 2:  # sum over space: (N, C, H, W) or tokens (N, L, C)
                        act_grad = act_grad.flatten(1, -2).sum(1) if is_linear else act_grad.flatten(2).sum(2)
                    per_channel = 0.5 * act_grad.pow(2).mean(0)
                    fisher[index] = fisher.get(index, 0) + per_channel

                output.register_hook(on_grad)
            return hook

        handles += [layer.register_forward_hook(record_fisher(i)) for i, layer in enumerate(layers)]

    needs_grad = bool(captures & {"loss_grads", "graph", "fisher", "jacobian"})
    x = inputs.clone().requires_grad_("jacobian" in captures)
    try:
        # The fused CPU attention kernel has no double backward; grasp's graph needs the math one.
        kernels = sdpa_kernel([SDPBackend.MATH]) if "graph" in captures else contextlib.nullcontext()
        with torch.set_grad_enabled(needs_grad), kernels:
            logits = model(x)
        result = SharedPass()
        weights = [layer.weight for layer in layers]
        if captures & {"loss_grads", "graph", "fisher"}:
            loss = F.cross_entropy(logits, targets)
            grads = torch.autograd.grad(
                loss, weights, create_graph="graph" in captures,
                retain_graph=bool(captures & {"graph", "jacobian"}), allow_unused=True,
            )
            result.grads = [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]
        recording["fisher"] = False
        if "jacobian" in captures:
            (result.jacobian,) = torch.autograd.grad(logits.sum(), x, retain_graph="graph" in captures)
    finally:
        for handle in handles:
            handle.remove()
    result.fisher = [fisher.get(i, torch.zeros(1)) for i in range(len(layers))]
    if "codes" in captures:
        result.kernel = kernel
    return result


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
