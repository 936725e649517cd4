"""MetaFormer space (Yu et al., "MetaFormer Is Actually What You Need for Vision", CVPR 2022, and
"MetaFormer Baselines for Vision", TPAMI 2023).

The macro skeleton is PoolFormer (v1)'s, so that PoolFormer-S12 is a member of the space: a 7x7
stride-4 patch-embedding conv, four stages at 56/28/14/7 joined by 3x3 stride-2 downsampling convs,
and MetaFormer blocks ``x + ls1 * mixer(norm1(x))`` then ``x + ls2 * mlp(norm2(x))`` with
GroupNorm(1, C), per-channel layer scale (init 1e-5) and a conv1x1-GELU-conv1x1 MLP with biases. The
head is GroupNorm(1, C), global average pooling and a linear classifier. Input: 224x224x3.

Each stage picks a token mixer, a depth, a width and an MLP ratio:

- mixer: ``identity`` (IdentityFormer), ``pool`` (PoolFormer: avgpool3x3 - x), ``sepconv``
  (ConvFormer: pw C->2C, StarReLU, dw7x7, pw 2C->C, no biases) or ``attention`` (multi-head
  self-attention, head dim 32, qkv without bias, output projection without bias, as in the
  MetaFormer baselines), 4 choices in every stage;
- depth: stage1 (1, 2, 3), stage2 (1, 2, 3), stage3 (2, 4, 6, 8), stage4 (1, 2, 3);
- width: stage1 (32, 64), stage2 (64, 128), stage3 (192, 256, 320), stage4 (384, 512);
- MLP ratio: (2, 3, 4) in every stage.

Size: (4*3*2*3)**3 * (4*4*3*3) = 72**3 * 144 = 53,747,712 candidates.

The canonical string is one timm-like token per stage, ``<mixer>_d<depth>_w<width>_r<ratio>``,
joined by '|'; PoolFormer-S12 is ``pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4``
(11,915,176 parameters with 1000 classes, as timm's ``poolformer_s12``). Block keys are the stem, each
downsampling conv, each MetaFormer block (input shape, mixer, MLP ratio; heads follow from C) and
the head, and the network is built of exactly those modules so per-block costs sum to the whole.
"""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from searchspaces.base import Chooser, SearchSpace, block_key
from searchspaces.layers import GlobalAvgPool
from searchspaces.metaformer_arch import (
    DEPTHS,
    FIELDS,
    MIXERS,
    MLP_RATIOS,
    NUM_STAGES,
    WIDTHS,
    MetaFormerArch,
    Stage,
    arch_from_json,
    arch_to_json,
    decode_arch,
    decode_stage,
    encode_arch,
    stage_options,
    validate_arch,
)
from searchspaces.registry import register

HEAD_DIM = 32
RESOLUTION = 224
STAGE_SIZES = tuple(RESOLUTION // 4 >> i for i in range(NUM_STAGES))  # 56, 28, 14, 7
LAYER_SCALE_INIT = 1e-5


class StarReLU(nn.Module):
    """ConvFormer's activation, s * relu(x)**2 + b with learnable scalars s and b.

    Chosen over ReLU/GELU because it is what the ConvFormer sepconv mixer uses; it costs two
    parameters and element-wise work only (no MACs).
    """

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.relu(x) ** 2 + self.bias


class Pooling(nn.Module):
    """PoolFormer's mixer: avgpool(x) - x (the block adds x back through its residual)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class SepConv(nn.Sequential):
    """ConvFormer's inverted separable conv (expansion 2, dw 7x7), pointwise ops as 1x1 convs."""

    def __init__(self, channels: int) -> None:
        mid = 2 * channels
        super().__init__(
            nn.Conv2d(channels, mid, 1, bias=False),
            StarReLU(),
            nn.Conv2d(mid, mid, 7, 1, 3, groups=mid, bias=False),
            nn.Conv2d(mid, channels, 1, bias=False),
        )


class Attention(nn.Module):
    """Multi-head self-attention over all H*W tokens (head dim 32), via fused SDPA to bound memory."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.heads = channels // HEAD_DIM
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.proj = nn.Linear(channels, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        qkv = self.qkv(tokens).reshape(batch, -1, 3, self.heads, HEAD_DIM).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        out = self.proj(out.transpose(1, 2).reshape(batch, -1, channels))
        return out.transpose(1, 2).reshape(batch, channels, height, width)


def make_mixer(mixer: str, channels: int) -> nn.Module:
    if mixer == "identity":
        return nn.Identity()
    if mixer == "pool":
        return Pooling()
    if mixer == "sepconv":
        return SepConv(channels)
    if mixer == "attention":
        if channels % HEAD_DIM:
            raise ValueError(f"attention needs a width divisible by {HEAD_DIM}, got {channels}")
        return Attention(channels)
    raise ValueError(f"unknown mixer {mixer!r}; choose from {list(MIXERS)}")


class MetaFormerBlock(nn.Module):
    """x + ls1 * mixer(norm1(x)), then x + ls2 * mlp(norm2(x)); norms are GroupNorm(1, C)."""

    def __init__(self, channels: int, mixer: str, mlp_ratio: int) -> None:
        super().__init__()
        hidden = channels * mlp_ratio
        self.norm1 = nn.GroupNorm(1, channels)
        self.mixer = make_mixer(mixer, channels)
        self.ls1 = nn.Parameter(torch.full((channels, 1, 1), LAYER_SCALE_INIT))
        self.norm2 = nn.GroupNorm(1, channels)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.GELU(), nn.Conv2d(hidden, channels, 1))
        self.ls2 = nn.Parameter(torch.full((channels, 1, 1), LAYER_SCALE_INIT))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1 * self.mixer(self.norm1(x))
        return x + self.ls2 * self.mlp(self.norm2(x))


def make_stem(width: int) -> nn.Module:
    """PoolFormer's patch embedding: 7x7 conv, stride 4, padding 2 (224 -> 56)."""
    return nn.Conv2d(3, width, 7, 4, 2)


def make_downsample(in_ch: int, out_ch: int) -> nn.Module:
    """PoolFormer's patch merging between stages: 3x3 conv, stride 2, padding 1."""
    return nn.Conv2d(in_ch, out_ch, 3, 2, 1)


class Head(nn.Module):
    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(1, channels)
        self.pool = GlobalAvgPool()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.norm(x)))


class MetaFormerNetwork(nn.Sequential):
    """Stem, per stage [downsample] + blocks, head: a flat sequence of the space's block modules."""

    def __init__(self, arch: MetaFormerArch, num_classes: int) -> None:
        layers: list[nn.Module] = [make_stem(arch[0].width)]
        for index, stage in enumerate(arch):
            if index > 0:
                layers.append(make_downsample(arch[index - 1].width, stage.width))
            layers.extend(
                MetaFormerBlock(stage.width, stage.mixer, stage.mlp_ratio) for _ in range(stage.depth)
            )
        layers.append(Head(arch[-1].width, num_classes))
        super().__init__(*layers)
        self.apply(_init_weights)


def _init_weights(module: nn.Module) -> None:
    """PoolFormer's initialisation: truncated normal (std 0.02) weights, zero biases."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _stem_key(width: int) -> str:
    return block_key("mf_stem", input=(RESOLUTION, RESOLUTION, 3), out=width)


def _down_key(stage: int, in_ch: int, out_ch: int) -> str:
    """The downsampling conv in front of ``stage`` (0-based, >= 1)."""
    size = STAGE_SIZES[stage - 1]
    return block_key("mf_down", input=(size, size, in_ch), out=out_ch)


def _block_key(stage: int, width: int, mixer: str, mlp_ratio: int) -> str:
    size = STAGE_SIZES[stage]
    return block_key("mf_block", input=(size, size, width), mixer=mixer, mlp_ratio=mlp_ratio)


def _head_key(width: int, classes: int) -> str:
    size = STAGE_SIZES[-1]
    return block_key("mf_head", input=(size, size, width), classes=classes)


class MetaFormerSpace(SearchSpace):
    name = "metaformer"
    title = "MetaFormer (per-stage token mixer, depth, width and MLP ratio)"
    reference = (
        "Yu et al., MetaFormer Is Actually What You Need for Vision, CVPR 2022; "
        "MetaFormer Baselines for Vision, TPAMI 2023"
    )
    default_num_classes = 1000
    resolutions = (RESOLUTION,)
    operation_fields = ("mixer",)
    published = {"PoolFormer-S12": "pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4"}

    # -- encodings (searchspaces.metaformer_arch) ----------------------------------------------
    def encode(self, arch: MetaFormerArch) -> str:
        return encode_arch(arch)

    def decode(self, text: str) -> MetaFormerArch:
        return decode_arch(text)

    def to_json(self, arch: MetaFormerArch) -> dict[str, Any]:
        return arch_to_json(arch)

    def from_json(self, data: dict[str, Any]) -> MetaFormerArch:
        return arch_from_json(data)

    # -- exploring -------------------------------------------------------------------------------
    def sample_with(self, choose: Chooser) -> MetaFormerArch:
        return tuple(
            Stage(*(choose(f"stage{i + 1}.{f}", stage_options(i)[f]) for f in FIELDS))
            for i in range(NUM_STAGES)
        )  # type: ignore[return-value]

    def mutate(self, arch: MetaFormerArch, rng: random.Random) -> MetaFormerArch:
        validate_arch(arch)
        index, field = rng.randrange(NUM_STAGES), rng.choice(FIELDS)
        stage = Stage(*arch[index])
        current = getattr(stage, field)
        new = rng.choice([v for v in stage_options(index)[field] if v != current])
        stages = [Stage(*s) for s in arch]
        stages[index] = stage._replace(**{field: new})
        return tuple(stages)  # type: ignore[return-value]

    def size(self) -> int:
        total = 1
        for index in range(NUM_STAGES):
            for options in stage_options(index).values():
                total *= len(options)
        return total

    def choices(self) -> dict[str, Any]:
        return {
            "mixers": list(MIXERS),
            "depths": {f"stage{i + 1}": list(d) for i, d in enumerate(DEPTHS)},
            "widths": {f"stage{i + 1}": list(w) for i, w in enumerate(WIDTHS)},
            "mlp_ratios": list(MLP_RATIOS),
            "stage_resolutions": list(STAGE_SIZES),
            "head_dim": HEAD_DIM,
            "example": "pool_d2_w64_r4|pool_d2_w128_r4|pool_d6_w320_r4|pool_d2_w512_r4",
        }

    # -- building and costing --------------------------------------------------------------------
    def build(self, arch: MetaFormerArch, num_classes: int | None = None) -> nn.Module:
        validate_arch(arch)
        return MetaFormerNetwork(tuple(Stage(*s) for s in arch), self.classes(num_classes))

    def blocks(self, arch: MetaFormerArch, num_classes: int | None = None) -> list[str]:
        validate_arch(arch)
        classes = self.classes(num_classes)
        stages = [Stage(*s) for s in arch]
        keys = [_stem_key(stages[0].width)]
        for index, stage in enumerate(stages):
            if index > 0:
                keys.append(_down_key(index, stages[index - 1].width, stage.width))
            keys.extend([_block_key(index, stage.width, stage.mixer, stage.mlp_ratio)] * stage.depth)
        keys.append(_head_key(stages[-1].width, classes))
        return keys

    def all_blocks(
        self, resolutions: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> set[str]:
        """Enumerated per block kind: every width of adjacent stages can meet, so all pairs occur."""
        self.check_resolutions(resolutions)
        classes = self.classes(num_classes)
        keys = {_stem_key(width) for width in WIDTHS[0]}
        keys |= {_head_key(width, classes) for width in WIDTHS[-1]}
        for index in range(NUM_STAGES):
            if index > 0:
                keys |= {_down_key(index, a, b) for a in WIDTHS[index - 1] for b in WIDTHS[index]}
            keys |= {
                _block_key(index, width, mixer, ratio)
                for width in WIDTHS[index]
                for mixer in MIXERS
                for ratio in MLP_RATIOS
            }
        return keys

    def block_parts(self, text: str) -> list[str]:
        """Per stage ``<stage>|<token>`` (its blocks, and the stem before the first), per downsampling
        conv ``down|<stage>|<previous width>|<width>`` and ``head|<last width>``, the widths as
        written in the tokens (``_w<width>_``)."""
        tokens = text.strip().split("|")
        if len(tokens) != NUM_STAGES:
            raise ValueError(f"bad token {text!r}: a MetaFormer arch string has {NUM_STAGES} stages")
        widths = [token.partition("_w")[2].partition("_r")[0] for token in tokens]
        return [
            *(f"{i}|{token}" for i, token in enumerate(tokens)),
            *(f"down|{i}|{widths[i - 1]}|{widths[i]}" for i in range(1, NUM_STAGES)),
            f"head|{widths[-1]}",
        ]

    def part_blocks(self, part: str, num_classes: int | None = None) -> list[str]:
        """The keys ``blocks`` makes for the part, from the same key functions."""
        fields = part.split("|")
        if fields[0] == "head":
            return [_head_key(int(fields[1]), self.classes(num_classes))]
        if fields[0] == "down":
            _, index, previous, width = fields
            return [_down_key(int(index), int(previous), int(width))]
        index, token = int(fields[0]), fields[1]
        stage = decode_stage(index, token)
        keys = [_block_key(index, stage.width, stage.mixer, stage.mlp_ratio)] * stage.depth
        return [_stem_key(stage.width), *keys] if index == 0 else keys

    def make_block(self, kind: str, channels: int, fields: dict[str, str]) -> nn.Module:
        if kind == "mf_stem":
            return make_stem(int(fields["out"]))
        if kind == "mf_down":
            return make_downsample(channels, int(fields["out"]))
        if kind == "mf_block":
            return MetaFormerBlock(channels, fields["mixer"], int(fields["mlp_ratio"]))
        if kind == "mf_head":
            return Head(channels, int(fields["classes"]))
        raise ValueError(f"unknown block kind {kind!r} for space {self.name!r}")


register(MetaFormerSpace())
