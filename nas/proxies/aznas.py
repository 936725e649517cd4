"""AZ-NAS components (Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture
Search", CVPR 2024): expressivity, progressivity and trainability, from one forward and one chain of
block-to-block backward passes. The fourth component, complexity, is the FLOPs of the network:
our ``macs`` proxy (``nas.proxies.counts``) already gives it. The rank aggregation that assembles the
four (sum of log rank shares) lives in ``nas.proxies.ensemble``.

The reference (cvlab-yonsei/AZ-NAS, ``NB201/ZeroShotProxy/compute_az_nas_score.py``; the same code
for MobileNetV2 in ``ImageNet_MBV2``) re-initialises the network (conv/linear weights Kaiming normal,
fan-in, ReLU gain; their biases 0; BatchNorm/GroupNorm affine 1 and 0), keeps it in train mode, feeds
a batch of standard Gaussian noise (64 images; real images are not used) and takes the feature map
after the stem and after every cell (NAS-Bench-201: 1 + 17 maps; the head is excluded). Per map F:

- expressivity: the covariance of the C channels over all N*H*W positions, its eigenvalues
  normalised to sum 1 (p), and their entropy -sum p log(p + 1e-8); summed over the maps.
- progressivity: the smallest increase of that entropy from one map to the next.
- trainability: for consecutive maps (F_in, F_out), a Rademacher (+-1) tensor g_out shaped like
  F_out, g_in = J^T g_out by autograd; if F_in is larger spatially, g_in is pixel-unshuffled to F_out's
  size; M = g_in^T g_out / P over the P positions (rows are positions, columns channels) estimates
  the block's Jacobian; sigma = the largest singular value of M; the pair scores
  -sigma - 1/(sigma + 1e-6) + 2 (0 at sigma = 1, lower for exploding or vanishing blocks). The score
  is the mean over the pairs. A block whose g_in equals g_out exactly (an identity) scores -inf.

Ours, where it differs or had to choose:

- The blocks are the children of the model if it is an ``nn.Sequential`` (MobileNetV3, ShuffleNetV2,
  MetaFormer: stem, blocks, downsampling layers, head); otherwise its children in order, where a child
  ``nn.Sequential`` made only of composite modules is a trunk and contributes its children (NB201:
  ``stem``, then each cell and ResNet block of ``cells``, then ``head``). Outputs with fewer than 3
  dimensions (pooled features, logits) are not feature maps, so the head drops out. An (N, L, C)
  output is tokens, C channels at N*L positions, as the reference's AutoFormer variant reads them.
- Features are read by forward hooks during the model's own forward; each hook hands the next block a
  copy, so a block working in place cannot change a recorded map.
- The Gaussian batch has the shape of the engine's inputs (the data itself is not read) and comes
  from a generator seeded with the context's seed, which then draws the Rademacher vectors: scores
  are deterministic. The re-initialisation draws from torch's global generator, seeded by
  ``fresh_model``.
- Covariances are float64 and eigenvalues are clamped at 0 (float32 round-off can make them slightly
  negative, which gave NaN in the reference). A map with zero variance, fewer than two maps, or an
  identity block gives the floor, as the reference's NaN or -inf ranks such a network last.
- A block whose output does not depend on its input has g_in = 0 (sigma = 0). When the spatial sizes
  do not divide, g_in is zero-padded to the next multiple before pixel-unshuffling.

The three proxies share one computation on one fresh model (never the shared ``context.model``, which
the re-initialisation would change): ``az_scores(context)`` runs it once per context and keeps the
three floats, no tensors, in a ``WeakKeyDictionary`` keyed by the context, so they vanish with it.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas.proxies.common import WEIGHT_LAYERS, finite_or_floor, forward_hooks
from nas.proxies.registry import proxy

LOG_EPS = 1e-8
SIGMA_EPS = 1e-6


@dataclass(frozen=True)
class AZScores:
    expressivity: float
    progressivity: float
    trainability: float


_SCORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def kaiming_init(model: nn.Module) -> None:
    """The reference's re-initialisation: Kaiming normal (fan-in, ReLU) weights, zero biases, norm
    affines 1 and 0."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, WEIGHT_LAYERS):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)) and module.affine:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)


def feature_blocks(model: nn.Module) -> list[nn.Module]:
    """The modules whose outputs are the feature maps (see the module docstring)."""
    if isinstance(model, nn.Sequential):
        return list(model.children())
    blocks: list[nn.Module] = []
    for child in model.children():
        inner = list(child.children())
        if isinstance(child, nn.Sequential) and inner and all(any(m.children()) for m in inner):
            blocks.extend(inner)
        else:
            blocks.append(child)
    return blocks


def block_features(model: nn.Module, inputs: torch.Tensor) -> list[torch.Tensor]:
    """One forward of ``inputs``; the outputs of ``feature_blocks`` with 3 or more dimensions, in
    order, still attached to the graph."""
    features: list[torch.Tensor] = []

    def record(module, args, output):
        if isinstance(output, torch.Tensor) and output.dim() >= 3:
            features.append(output)
            return output.clone()
        return None

    with forward_hooks(feature_blocks(model), record), torch.enable_grad():
        model(inputs)
    return features


def as_rows(feature: torch.Tensor) -> torch.Tensor:
    """Positions as rows, channels as columns: (N, C, *spatial) -> (N*prod(spatial), C); tokens
    (N, L, C) -> (N*L, C)."""
    if feature.dim() == 3:
        return feature.reshape(-1, feature.shape[-1])
    return feature.movedim(1, -1).reshape(-1, feature.shape[1])


def spectral_entropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance; NaN for zero variance."""
    rows = as_rows(feature.detach()).double()
    rows = rows - rows.mean(0, keepdim=True)
    eigenvalues = torch.linalg.eigvalsh(rows.T @ rows / rows.shape[0]).clamp_min(0)
    total = eigenvalues.sum()
    if not total > 0:
        return math.nan
    p = eigenvalues / total
    return float(-(p * torch.log(p + LOG_EPS)).sum())


def match_positions(g_in: torch.Tensor, g_out: torch.Tensor) -> torch.Tensor:
    """Pixel-unshuffle ``g_in`` so it has ``g_out``'s spatial size (zero-padded to a multiple)."""
    if g_in.dim() != 4 or g_in.shape[2:] == g_out.shape[2:]:
        return g_in
    (h_in, w_in), (h_out, w_out) = g_in.shape[2:], g_out.shape[2:]
    factor = max(math.ceil(h_in / h_out), math.ceil(w_in / w_out))
    g_in = F.pad(g_in, (0, factor * w_out - w_in, 0, factor * h_out - h_in))
    return F.pixel_unshuffle(g_in, factor) if factor > 1 else g_in


def pair_trainability(f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator) -> float:
    """-sigma - 1/(sigma + 1e-6) + 2 for the Jacobian estimate of one block; -inf for an identity.
    Frees the graph between the two maps."""
    signs = torch.randint(0, 2, f_out.shape, generator=generator, dtype=torch.int8)
    g_out = (signs * 2 - 1).to(f_out)
    g_in = None
    if f_out.requires_grad:
        (g_in,) = torch.autograd.grad(f_out, f_in, g_out, allow_unused=True)
    if g_in is None:
        g_in = torch.zeros_like(f_in)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    rows_in, rows_out = as_rows(match_positions(g_in, g_out)), as_rows(g_out)
    if rows_in.shape[0] != rows_out.shape[0]:
        raise ValueError(f"az_trainability: cannot match features {tuple(f_in.shape)} -> {tuple(f_out.shape)}")
    jacobian = rows_in.double().T @ rows_out.double() / rows_out.shape[0]
    sigma = float(torch.linalg.matrix_norm(jacobian, ord=2))
    return -sigma - 1 / (sigma + SIGMA_EPS) + 2


def compute_scores(model: nn.Module, inputs: torch.Tensor, generator: torch.Generator) -> AZScores:
    """The three components of ``model`` (already initialised, in train mode) on ``inputs``; the
    Rademacher vectors come from ``generator``."""
    features = block_features(model, inputs)
    entropies = np.array([spectral_entropy(f) for f in features])
    pairs = [pair_trainability(features[i - 1], features[i], generator)
             for i in reversed(range(1, len(features)))]
    enough = len(features) >= 2
    return AZScores(
        expressivity=finite_or_floor(entropies.sum() if len(features) else math.nan),
        progressivity=finite_or_floor(np.diff(entropies).min() if enough else math.nan),
        trainability=finite_or_floor(np.mean(pairs) if enough else math.nan),
    )


def az_scores(context) -> AZScores:
    """The three components for ``context``, computed once on a fresh Kaiming-initialised model."""
    scores = _SCORES.get(context)
    if scores is None:
        model = context.fresh_model()
        kaiming_init(model)
        generator = torch.Generator().manual_seed(context.seed)
        inputs = torch.randn(context.inputs.shape, generator=generator).to(context.inputs)
        scores = _SCORES[context] = compute_scores(model, inputs, generator)
    return scores


@proxy("az_expressivity", data=False,
       description="AZ-NAS: summed eigenvalue entropy of block feature covariances")
def az_expressivity(context) -> float:
    return az_scores(context).expressivity


@proxy("az_progressivity", data=False,
       description="AZ-NAS: smallest increase of feature entropy from one block to the next")
def az_progressivity(context) -> float:
    return az_scores(context).progressivity


@proxy("az_trainability", data=False,
       description="AZ-NAS: mean -(sigma + 1/sigma) + 2 of block Jacobian spectral norms")
def az_trainability(context) -> float:
    return az_scores(context).trainability
