"""What a proxy reads (``ProxyContext``): the data, fresh seeded models, and one shared pass.

Proxies that read the same forward/backward pass on the same weights share it: one train-mode
forward of the batch records ReLU codes (NASWOT), each unit's on/off pattern over the samples (SWAP) and
conv/linear outputs (fisher); one backward of the
cross-entropy loss gives the weight gradients (snip, grad_norm, grasp's first gradient) and, with
``create_graph`` when grasp is asked for, the graph grasp differentiates again; one more backward
of the summed logits gives the input Jacobian (jacob_cov). Proxies that change weights (synflow,
zen) get a fresh model from ``build()``, seeded, so no proxy sees another's changes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from nas.proxies.common import weight_layers
from nas.proxies.grouped_conv import cheap_double_backward

# Activation modules whose inputs give NASWOT's binary codes (the reference hooks ReLUs; other
# activations are piecewise the same test, "is the unit on").
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.GELU, nn.SiLU, nn.LeakyReLU)
PATTERN_SAMPLES = 16  # SWAP's patterns span its paper's batch of 16 (why: nas.proxies.swap)


@dataclass
class SharedPass:
    grads: list[torch.Tensor] = field(default_factory=list)  # per weight layer, maybe with graph
    fisher: list[torch.Tensor] = field(default_factory=list)  # per weight layer, per channel
    kernel: np.ndarray | None = None  # NASWOT's Hamming kernel, float64
    jacobian: torch.Tensor | None = None  # d(sum logits)/d(inputs)
    patterns: list[np.ndarray] = field(default_factory=list)  # per activation: (units, bytes) packed bits


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
    """One forward of ``inputs`` and the backward passes the ``captures`` ask for, with hooks that
    record what the proxies read."""
    kernel = np.zeros((inputs.shape[0], inputs.shape[0]))
    fisher: dict[int, torch.Tensor] = {}
    recording = {"fisher": "fisher" in captures}
    handles = []
    patterns: list[np.ndarray] = []
    if "codes" in captures:
        handles += _record_codes(model, kernel)
    if "patterns" in captures:
        handles += _record_patterns(model, patterns)
    if "fisher" in captures:
        handles += _record_fisher(layers, fisher, recording)
    try:
        result = _forward_backward(model, layers, inputs, targets, captures, recording)
    finally:
        for handle in handles:
            handle.remove()
    result.fisher = [fisher.get(i, torch.zeros(1)) for i in range(len(layers))]
    if "codes" in captures:
        result.kernel = kernel
    result.patterns = patterns
    return result


def _record_codes(model: nn.Module, kernel: np.ndarray) -> list[Any]:
    """Hooks adding each activation's Hamming kernel of its inputs' binary codes (NASWOT) to ``kernel``."""
    def record_codes(module, args):
        codes = (args[0].detach().flatten(1) > 0).float()
        units = codes.shape[1]
        on = codes.sum(1, keepdim=True)
        # c c^T + (1-c)(1-c)^T = 2 c c^T - on_i - on_j + units: one matmul instead of two
        gram = 2 * (codes @ codes.T) - on - on.T + units
        kernel[:] += gram.double().numpy()

    return [m.register_forward_pre_hook(record_codes) for m in model.modules() if isinstance(m, ACTIVATIONS)]


def _record_patterns(model: nn.Module, patterns: list[np.ndarray]) -> list[Any]:
    """Hooks adding each activation's sample-wise patterns (SWAP) to ``patterns``: for every unit of its
    input, which of the batch's first ``PATTERN_SAMPLES`` samples turn it on (input > 0), packed eight
    samples to a byte."""
    def record_patterns(module, args):
        on = (args[0].detach()[:PATTERN_SAMPLES].flatten(1) > 0).T.contiguous().numpy()  # (units, samples)
        patterns.append(np.packbits(on, axis=1))

    return [m.register_forward_pre_hook(record_patterns) for m in model.modules() if isinstance(m, ACTIVATIONS)]


def _record_fisher(
    layers: list[nn.Module], fisher: dict[int, torch.Tensor], recording: dict[str, bool]
) -> list[Any]:
    """Hooks adding each weight layer's per-channel Fisher information to ``fisher`` (by layer index)
    from the gradient of its output, while ``recording["fisher"]`` holds."""
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

    return [layer.register_forward_hook(record_fisher(i)) for i, layer in enumerate(layers)]


def _forward_backward(
    model: nn.Module,
    layers: list[nn.Module],
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    captures: frozenset[str],
    recording: dict[str, bool],
) -> SharedPass:
    """The forward pass, the loss's weight gradients and the input Jacobian, as ``captures`` ask;
    fisher stops recording after the loss's backward."""
    needs_grad = bool(captures & {"loss_grads", "graph", "fisher", "jacobian"})
    x = inputs.clone().requires_grad_("jacobian" in captures)
    # The fused CPU attention kernel has no double backward; grasp's graph needs the math one, and
    # grouped convolutions one that does not loop over their groups.
    graph = "graph" in captures
    kernels = sdpa_kernel([SDPBackend.MATH]) if graph else contextlib.nullcontext()
    grouped = cheap_double_backward(model) if graph else contextlib.nullcontext()
    with torch.set_grad_enabled(needs_grad), kernels, grouped:
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
    return result
