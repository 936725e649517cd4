"""Once-for-All MobileNetV3 space (Cai et al., "Once-for-All: Train One Network and Specialize it for
Efficient Deployment", ICLR 2020), on the MobileNetV3-Large skeleton (Howard et al., ICCV 2019).

Fixed: a 3x3 stride-2 stem (16 channels, h-swish) and a first inverted-residual block (expand 1, 16
channels); the head (1x1 conv to 960, global pooling, 960->1280 h-swish, classifier). Searched, as in
OFA: five stages of 24/40/80/112/160 channels (strides 2/2/2/1/2; SE in stages 2, 4, 5 and h-swish in
stages 3-5, where MobileNetV3-Large has them), each with depth 2, 3 or 4; every layer's depthwise kernel
3/5/7 and expansion ratio 3/4/6; and the input resolution, 128 to 224 in steps of 16.

Size: (9**2 + 9**3 + 9**4) ** 5 * 7 = 1.5e20 candidates (OFA counts ~2e19 without resolutions).

Canonical string: the resolution, then the stages joined by '|', each a list of timm-like
inverted-residual tokens ``ir_k<kernel>_e<expand>``, e.g. ``r224|ir_k3_e4,ir_k3_e3|ir_k5_e3,...``.
Block keys: the stem (stem conv + first block), one key per inverted-residual layer (input HxWxC,
output channels, kernel, expansion, stride, SE, activation) and the head.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from searchspaces.base import Chooser, SearchSpace, block_key, conv_out
from searchspaces.layers import ConvBNAct, GlobalAvgPool, SqueezeExcite, activation, make_divisible
from searchspaces.registry import register

STEM_CHANNELS = 16
# (output channels, stride of the first layer, activation, squeeze-excite) per searchable stage
STAGES = (
    (24, 2, "relu", False),
    (40, 2, "relu", True),
    (80, 2, "hswish", False),
    (112, 1, "hswish", True),
    (160, 2, "hswish", True),
)
FINAL_EXPAND = 960
FEATURE_MIX = 1280
DEPTHS = (2, 3, 4)
KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 6)
RESOLUTIONS = tuple(range(128, 225, 16))

_TOKEN = re.compile(r"^ir_k(\d+)_e(\d+)$")
_RESOLUTION = re.compile(r"^r(\d+)$")

Layer = tuple[int, int]  # (kernel, expand)


@dataclass(frozen=True)
class MBV3Arch:
    resolution: int
    stages: tuple[tuple[Layer, ...], ...]


class InvertedResidual(nn.Module):
    """MBConv: 1x1 expand (skipped when expand is 1), depthwise kxk, optional SE, 1x1 project."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, expand: int, stride: int, se: bool, act: str
    ) -> None:
        super().__init__()
        mid = make_divisible(in_ch * expand, 8)
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(in_ch, mid, 1, act=act))
        layers.append(ConvBNAct(mid, mid, kernel, stride, groups=mid, act=act))
        if se:
            layers.append(SqueezeExcite(mid))
        layers.append(ConvBNAct(mid, out_ch, 1, act=None))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class Stem(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(
            ConvBNAct(3, STEM_CHANNELS, 3, 2, act="hswish"),
            InvertedResidual(STEM_CHANNELS, STEM_CHANNELS, 3, 1, 1, False, "relu"),
        )


class Head(nn.Module):
    def __init__(self, in_ch: int, num_classes: int) -> None:
        super().__init__()
        self.final_expand = ConvBNAct(in_ch, FINAL_EXPAND, 1, act="hswish")
        self.pool = GlobalAvgPool()
        self.feature_mix = nn.Sequential(nn.Linear(FINAL_EXPAND, FEATURE_MIX), activation("hswish"))
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(FEATURE_MIX, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.final_expand(x))
        return self.classifier(self.dropout(self.feature_mix(x)))


class MobileNetV3Space(SearchSpace):
    name = "mobilenetv3"
    title = "Once-for-All MobileNetV3 (elastic depth, kernel, expansion, resolution)"
    reference = "Cai et al., Once-for-All, ICLR 2020; Howard et al., MobileNetV3, ICCV 2019"
    default_num_classes = 1000
    resolutions = RESOLUTIONS
    published = {
        "MobileNetV3-Large": "r224|ir_k3_e4,ir_k3_e3|ir_k5_e3,ir_k5_e3,ir_k5_e3|"
        "ir_k3_e6,ir_k3_e3,ir_k3_e3,ir_k3_e3|ir_k3_e6,ir_k3_e6|ir_k5_e6,ir_k5_e6,ir_k5_e6",
    }

    # -- encodings -------------------------------------------------------------------------------
    def encode(self, arch: MBV3Arch) -> str:
        self._validate(arch)
        stages = [",".join(f"ir_k{k}_e{e}" for k, e in stage) for stage in arch.stages]
        return "|".join([f"r{arch.resolution}", *stages])

    def decode(self, text: str) -> MBV3Arch:
        if not isinstance(text, str):
            raise ValueError(f"a MobileNetV3 arch string must be a string, got {type(text).__name__}")
        head, *stage_texts = text.strip().split("|")
        match = _RESOLUTION.match(head)
        if not match or int(match.group(1)) not in RESOLUTIONS:
            raise ValueError(
                f"bad token {head!r}: the string must start with the resolution r<R>, "
                f"R in {list(RESOLUTIONS)}"
            )
        if len(stage_texts) != len(STAGES):
            raise ValueError(
                f"bad token {text!r}: expected {len(STAGES)} stages after the resolution, "
                f"found {len(stage_texts)}"
            )
        stages = []
        for index, stage_text in enumerate(stage_texts, start=1):
            tokens = stage_text.split(",")
            if len(tokens) not in DEPTHS:
                raise ValueError(
                    f"bad token {stage_text!r}: stage {index} has {len(tokens)} layers; "
                    f"depth must be one of {list(DEPTHS)}"
                )
            stages.append(tuple(_decode_layer(token, index) for token in tokens))
        return MBV3Arch(int(match.group(1)), tuple(stages))

    def to_json(self, arch: MBV3Arch) -> dict[str, Any]:
        self._validate(arch)
        data: dict[str, Any] = {"resolution": arch.resolution}
        for s, stage in enumerate(arch.stages, start=1):
            data[f"stage{s}.depth"] = len(stage)
            for i, (kernel, expand) in enumerate(stage):
                data[f"stage{s}.layer{i}.kernel"] = kernel
                data[f"stage{s}.layer{i}.expand"] = expand
        return data

    def from_json(self, data: dict[str, Any]) -> MBV3Arch:
        if not isinstance(data, dict):
            raise ValueError("a MobileNetV3 JSON arch must be an object of labelled choices")
        expected = {"resolution"}
        stages = []
        for s in range(1, len(STAGES) + 1):
            depth = _field(data, f"stage{s}.depth", DEPTHS)
            expected.add(f"stage{s}.depth")
            layers = []
            for i in range(depth):
                kernel = _field(data, f"stage{s}.layer{i}.kernel", KERNELS)
                expand = _field(data, f"stage{s}.layer{i}.expand", EXPANDS)
                expected.update({f"stage{s}.layer{i}.kernel", f"stage{s}.layer{i}.expand"})
                layers.append((kernel, expand))
            stages.append(tuple(layers))
        unknown = sorted(set(data) - expected)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (beyond a stage's depth, or misspelt)")
        return MBV3Arch(_field(data, "resolution", RESOLUTIONS), tuple(stages))

    def _validate(self, arch: Any) -> None:
        if not isinstance(arch, MBV3Arch):
            raise ValueError(f"expected a MobileNetV3 arch, got {type(arch).__name__}")
        if arch.resolution not in RESOLUTIONS:
            raise ValueError(f"bad token 'r{arch.resolution}': resolution not in {list(RESOLUTIONS)}")
        if len(arch.stages) != len(STAGES):
            raise ValueError(f"a MobileNetV3 arch has {len(STAGES)} stages, got {len(arch.stages)}")
        for index, stage in enumerate(arch.stages, start=1):
            if len(stage) not in DEPTHS:
                raise ValueError(f"stage {index} depth {len(stage)} is not in {list(DEPTHS)}")
            for kernel, expand in stage:
                if kernel not in KERNELS or expand not in EXPANDS:
                    raise ValueError(f"bad token 'ir_k{kernel}_e{expand}' in stage {index}")

    # -- exploring -------------------------------------------------------------------------------
    def sample_with(self, choose: Chooser) -> MBV3Arch:
        stages = []
        for s in range(1, len(STAGES) + 1):
            depth = choose(f"stage{s}.depth", DEPTHS)
            stages.append(tuple(
                (choose(f"stage{s}.layer{i}.kernel", KERNELS), choose(f"stage{s}.layer{i}.expand", EXPANDS))
                for i in range(depth)
            ))
        return MBV3Arch(choose("resolution", RESOLUTIONS), tuple(stages))

    def mutate(self, arch: MBV3Arch, rng: random.Random) -> MBV3Arch:
        """Change one choice: the resolution, one stage's depth, or one layer's kernel or expansion.

        A deeper stage gets new layers drawn at random; a shallower one keeps its first layers (OFA).
        """
        self._validate(arch)
        slots: list[tuple] = [("resolution",)]
        for s, stage in enumerate(arch.stages):
            slots.append(("depth", s))
            slots.extend(("layer", s, i, field) for i in range(len(stage)) for field in (0, 1))
        slot = rng.choice(slots)
        if slot[0] == "resolution":
            new_res = rng.choice([r for r in RESOLUTIONS if r != arch.resolution])
            return MBV3Arch(new_res, arch.stages)
        stages = [list(stage) for stage in arch.stages]
        s = slot[1]
        if slot[0] == "depth":
            depth = rng.choice([d for d in DEPTHS if d != len(stages[s])])
            while len(stages[s]) < depth:
                stages[s].append((rng.choice(KERNELS), rng.choice(EXPANDS)))
            del stages[s][depth:]
        else:
            _, _, i, field = slot
            options = KERNELS if field == 0 else EXPANDS
            layer = list(stages[s][i])
            layer[field] = rng.choice([v for v in options if v != layer[field]])
            stages[s][i] = (layer[0], layer[1])
        return MBV3Arch(arch.resolution, tuple(tuple(stage) for stage in stages))

    def size(self) -> int:
        per_stage = sum((len(KERNELS) * len(EXPANDS)) ** d for d in DEPTHS)
        return per_stage ** len(STAGES) * len(RESOLUTIONS)

    def choices(self) -> dict[str, Any]:
        return {
            "resolution": list(RESOLUTIONS),
            "depth": list(DEPTHS),
            "kernel": list(KERNELS),
            "expand": list(EXPANDS),
            "stages": [
                {"channels": c, "stride": s, "activation": a, "se": se} for c, s, a, se in STAGES
            ],
            "example": self.encode(MOBILENETV3_LARGE),
        }

    def resolution(self, arch: MBV3Arch) -> int:
        self._validate(arch)
        return arch.resolution

    # -- building and costing --------------------------------------------------------------------
    def build(self, arch: MBV3Arch, num_classes: int | None = None) -> nn.Module:
        self._validate(arch)
        classes = self.classes(num_classes)
        return nn.Sequential(*(self.block_module(key)[0] for key in self.blocks(arch, classes)))

    def blocks(self, arch: MBV3Arch, num_classes: int | None = None) -> list[str]:
        self._validate(arch)
        size = conv_out(arch.resolution, 3, 2)
        keys = [block_key("mbv3_stem", input=(arch.resolution, arch.resolution, 3), out=STEM_CHANNELS)]
        in_ch = STEM_CHANNELS
        for (out_ch, first_stride, act, se), stage in zip(STAGES, arch.stages):
            for i, (kernel, expand) in enumerate(stage):
                stride = first_stride if i == 0 else 1
                keys.append(
                    block_key(
                        "mbv3_ir", input=(size, size, in_ch), out=out_ch, k=kernel, e=expand,
                        s=stride, se=se, act=act,
                    )
                )
                size, in_ch = conv_out(size, kernel, stride), out_ch
        keys.append(block_key("mbv3_head", input=(size, size, in_ch), classes=self.classes(num_classes)))
        return keys

    def all_blocks(
        self, resolutions: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> set[str]:
        keys: set[str] = set()
        for resolution in self.check_resolutions(resolutions):
            # every layer choice at every position of the deepest network covers all keys: shapes
            # depend only on the position's stage and whether it is the stage's first layer
            for kernel in KERNELS:
                for expand in EXPANDS:
                    stages = tuple(((kernel, expand),) * max(DEPTHS) for _ in STAGES)
                    keys.update(self.blocks(MBV3Arch(resolution, stages), num_classes))
        return keys

    def block_parts(self, text: str) -> list[str]:
        """``stem|<resolution token>``, ``head|<resolution token>`` and one part per layer,
        ``<resolution token>|<stage><0 for its first layer, else 1>|<layer token>``: a layer's key
        follows from those alone, since odd kernels keep the size at stride 1."""
        head, *stage_texts = text.strip().split("|")
        if len(stage_texts) != len(STAGES):
            raise ValueError(f"bad token {text!r}: expected {len(STAGES)} stages after the resolution")
        parts = ["stem|" + head, "head|" + head]
        for stage, stage_text in enumerate(stage_texts):
            tokens = stage_text.split(",")
            if len(tokens) not in DEPTHS:
                raise ValueError(f"bad token {stage_text!r}: depth must be one of {list(DEPTHS)}")
            parts.append(f"{head}|{stage}0|{tokens[0]}")
            parts += map(f"{head}|{stage}1|".__add__, tokens[1:])
        return parts

    def part_blocks(self, part: str, num_classes: int | None = None) -> list[str]:
        """Read off ``blocks`` of a network whose stages are two of the part's layer each, so the
        shapes have one source."""
        fields = part.split("|")
        if len(fields) == 2:  # stem or head
            where, head = fields
            layer = (KERNELS[0], EXPANDS[0])
        else:
            head, position, token = fields
            stage, later = int(position[0]), int(position[1])
            layer = _decode_layer(token, stage + 1)
        resolution = self.decode("|".join([head, *["ir_k3_e3,ir_k3_e3"] * len(STAGES)])).resolution
        keys = self.blocks(MBV3Arch(resolution, ((layer, layer),) * len(STAGES)), num_classes)
        if len(fields) == 2:
            return keys[:1] if where == "stem" else keys[-1:]
        return [keys[1 + 2 * stage + later]]

    def make_block(self, kind: str, channels: int, fields: dict[str, str]) -> nn.Module:
        if kind == "mbv3_stem":
            return Stem()
        if kind == "mbv3_ir":
            return InvertedResidual(
                channels, int(fields["out"]), int(fields["k"]), int(fields["e"]),
                int(fields["s"]), fields["se"] == "1", fields["act"],
            )
        if kind == "mbv3_head":
            return Head(channels, int(fields["classes"]))
        raise ValueError(f"unknown block kind {kind!r} for space {self.name!r}")


def _decode_layer(token: str, stage: int) -> Layer:
    match = _TOKEN.match(token)
    if not match:
        raise ValueError(f"bad token {token!r} in stage {stage}: expected ir_k<kernel>_e<expand>")
    kernel, expand = int(match.group(1)), int(match.group(2))
    if kernel not in KERNELS:
        raise ValueError(f"bad token {token!r} in stage {stage}: kernel {kernel} not in {list(KERNELS)}")
    if expand not in EXPANDS:
        raise ValueError(f"bad token {token!r} in stage {stage}: expand {expand} not in {list(EXPANDS)}")
    return kernel, expand


def _field(data: dict[str, Any], name: str, options: tuple[int, ...]) -> int:
    if name not in data:
        raise ValueError(f"missing field {name!r}")
    value = data[name]
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"field {name!r}: {value!r} is not one of {list(options)}")
    return int(value)


# MobileNetV3-Large written in this space. Its stage-3 expansions (2.5, 2.3, 2.3) are not OFA
# choices; the nearest, 3, adds about 2% MACs (tested against the published 5.4M / 219M).
MOBILENETV3_LARGE = MBV3Arch(
    224,
    (
        ((3, 4), (3, 3)),
        ((5, 3), (5, 3), (5, 3)),
        ((3, 6), (3, 3), (3, 3), (3, 3)),
        ((3, 6), (3, 6)),
        ((5, 6), (5, 6), (5, 6)),
    ),
)

register(MobileNetV3Space())
