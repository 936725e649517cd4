"""SPOS ShuffleNetV2 space: block and channel search (Guo et al., "Single Path One-Shot Neural
Architecture Search with Uniform Sampling", ECCV 2020).

The macro skeleton is the SPOS supernet (paper Table 1, 1.0x widths): a 3x3 stride-2 conv stem
(3->16, BN, ReLU) at 224x224, then 4 stages of 4/4/8/4 choice blocks with 64/160/320/640 output
channels whose first block has stride 2 (112 -> 56 -> 28 -> 14 -> 7), then a 1x1 conv to 1024 (BN,
ReLU), global average pooling, dropout 0.1 and a bias-free linear classifier. As in SPOS (and unlike
ShuffleNetV2, whose 24-channel stem is followed by a max-pool) there is no max-pool: the stride-2
stem and four stride-2 stages give the 7x7 map the SPOS head pools.

Each of the 20 choice blocks picks one of 4 operations and one of 10 channel scales:

* ``shuf_k3`` / ``shuf_k5`` / ``shuf_k7``: the ShuffleNetV2 unit with a 3x3, 5x5 or 7x7 depthwise conv;
* ``xcp_k3``: the Xception-like unit, three 3x3 depthwise convs each followed by a pointwise conv;
* scale in 0.2, 0.4, ..., 2.0: the unit's bottleneck has ``int(block_out // 2 * scale)`` channels
  (SPOS channel search; scale 1.0 is the plain ShuffleNetV2 width).

So the space holds (4 x 10)**20 = 40**20 ~ 1.1e32 candidates. The canonical string joins stages with
'|' and a stage's blocks with ',', each block a token ``{op}_m{scale}``, e.g. ``shuf_k5_m0.4``.
Block keys are one per choice block (op kind, input HxWxC, output channels, kernel, stride, mid
channels), plus the stem and the head; stride-1 blocks of a stage share shapes, so the space has
4 stages x 2 positions x 40 choices + 2 = 322 keys per class count.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from torch import nn

from searchspaces.base import Chooser, SearchSpace, block_key, conv_out
from searchspaces.layers import ConvBNAct, GlobalAvgPool
from searchspaces.registry import register

OPS = ("shuf_k3", "shuf_k5", "shuf_k7", "xcp_k3")
SCALES = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
STAGE_DEPTHS = (4, 4, 8, 4)
STAGE_CHANNELS = (64, 160, 320, 640)
STEM_CHANNELS = 16
HEAD_CHANNELS = 1024
DROPOUT = 0.1
RESOLUTION = 224
NUM_BLOCKS = sum(STAGE_DEPTHS)

SPOSArch = tuple[tuple[str, float], ...]


def mid_channels(out: int, scale: float) -> int:
    """SPOS's ``int(out // 2 * scale)``, in integer tenths so no float rounding can creep in."""
    return (out // 2) * round(scale * 10) // 10


def kernel_of(op: str) -> int:
    return int(op.rpartition("_k")[2])


def split_halves(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SPOS's shuffle-then-split: even channels pass through, odd channels feed the main branch."""
    return x[:, 0::2], x[:, 1::2]


def projection(channels: int, kernel: int) -> nn.Sequential:
    """The stride-2 shortcut branch: depthwise kxk stride 2 (BN), then pointwise (BN, ReLU)."""
    return nn.Sequential(
        ConvBNAct(channels, channels, kernel, 2, groups=channels, act=None),
        ConvBNAct(channels, channels, 1),
    )


class ChoiceBlock(nn.Module):
    """The frame both SPOS units share: split (stride 1) or duplicate (stride 2), then concat."""

    def __init__(self, main: nn.Module, proj: nn.Module | None) -> None:
        super().__init__()
        self.main = main
        self.proj = proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.proj is None:
            keep, x = split_halves(x)
        else:
            keep = self.proj(x)
        return torch.cat((keep, self.main(x)), 1)


def branch_input(in_ch: int, stride: int) -> int:
    """The main branch sees half the channels at stride 1 and all of them at stride 2."""
    return in_ch // 2 if stride == 1 else in_ch


def shuffle_block(in_ch: int, out: int, mid: int, kernel: int, stride: int) -> ChoiceBlock:
    """ShuffleNetV2 unit: pw (BN, ReLU) -> dw kxk (BN) -> pw (BN, ReLU) to ``out - inp`` channels."""
    inp = branch_input(in_ch, stride)
    main = nn.Sequential(
        ConvBNAct(inp, mid, 1),
        ConvBNAct(mid, mid, kernel, stride, groups=mid, act=None),
        ConvBNAct(mid, out - inp, 1),
    )
    return ChoiceBlock(main, projection(inp, kernel) if stride == 2 else None)


def xception_block(in_ch: int, out: int, mid: int, stride: int) -> ChoiceBlock:
    """Xception-like unit: three (dw 3x3 BN -> pw BN ReLU) pairs; only the first dw strides."""
    inp = branch_input(in_ch, stride)
    main = nn.Sequential(
        ConvBNAct(inp, inp, 3, stride, groups=inp, act=None),
        ConvBNAct(inp, mid, 1),
        ConvBNAct(mid, mid, 3, groups=mid, act=None),
        ConvBNAct(mid, mid, 1),
        ConvBNAct(mid, mid, 3, groups=mid, act=None),
        ConvBNAct(mid, out - inp, 1),
    )
    return ChoiceBlock(main, projection(inp, 3) if stride == 2 else None)


class Head(nn.Module):
    """SPOS's conv_last (1x1 to 1024, BN, ReLU), global pooling, dropout and bias-free classifier."""

    def __init__(self, in_ch: int, channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = ConvBNAct(in_ch, channels, 1)
        self.pool = GlobalAvgPool()
        self.dropout = nn.Dropout(DROPOUT)
        self.classifier = nn.Linear(channels, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.pool(self.conv(x))))


def make_block(kind: str, channels: int, fields: dict[str, int]) -> nn.Module:
    """The module for one block; ``build`` and ``block_module`` both go through here."""
    if kind == "spos_stem":
        return ConvBNAct(channels, fields["out"], 3, 2)
    if kind == "spos_shuffle":
        return shuffle_block(channels, fields["out"], fields["mid"], fields["k"], fields["s"])
    if kind == "spos_xception":
        return xception_block(channels, fields["out"], fields["mid"], fields["s"])
    if kind == "spos_head":
        return Head(channels, fields["out"], fields["classes"])
    raise ValueError(f"unknown block kind {kind!r} for space 'shufflenetv2'")


def layout(arch: SPOSArch, classes: int) -> list[tuple[str, tuple[int, int, int], dict[str, int]]]:
    """(kind, input HxWxC, cost fields) per block in network order: the one source of truth."""
    size = conv_out(RESOLUTION, 3, 2)
    specs = [("spos_stem", (RESOLUTION, RESOLUTION, 3), {"out": STEM_CHANNELS})]
    channels, index = STEM_CHANNELS, 0
    for depth, out in zip(STAGE_DEPTHS, STAGE_CHANNELS):
        for position in range(depth):
            op, scale = arch[index]
            index += 1
            stride = 2 if position == 0 else 1
            kind = "spos_shuffle" if op.startswith("shuf") else "spos_xception"
            fields = {"out": out, "k": kernel_of(op), "s": stride, "mid": mid_channels(out, scale)}
            specs.append((kind, (size, size, channels), fields))
            size, channels = conv_out(size, 3, stride), out
    specs.append(("spos_head", (size, size, channels), {"out": HEAD_CHANNELS, "classes": classes}))
    return specs


def _labels() -> list[str]:
    return [f"stage{s + 1}.block{b}" for s, depth in enumerate(STAGE_DEPTHS) for b in range(depth)]


LABELS = _labels()


class ShuffleNetV2Space(SearchSpace):
    name = "shufflenetv2"
    title = "SPOS ShuffleNetV2 blocks and channels (20 blocks x 4 ops x 10 channel scales)"
    reference = "Guo et al., Single Path One-Shot NAS with Uniform Sampling, ECCV 2020"
    default_num_classes = 1000
    resolutions = (RESOLUTION,)
    # SPOS's released searched model (block and channel search), 328M MACs / 3.4M params
    published = {
        "SPOS-OneShot": "shuf_k3_m1.4,shuf_k3_m1.2,xcp_k3_m0.8,shuf_k5_m1.2|"
        "shuf_k5_m0.6,shuf_k5_m1.4,shuf_k3_m0.8,shuf_k3_m1.0|"
        "shuf_k7_m0.6,shuf_k3_m1.2,shuf_k7_m1.6,shuf_k5_m1.2,shuf_k5_m1.0,shuf_k3_m1.4,shuf_k7_m1.6,"
        "shuf_k3_m1.0|shuf_k7_m1.0,shuf_k5_m1.2,xcp_k3_m1.0,shuf_k7_m0.8",
    }

    # -- encodings -------------------------------------------------------------------------------
    def encode(self, arch: SPOSArch) -> str:
        self._validate(arch)
        tokens = [f"{op}_m{scale:.1f}" for op, scale in arch]
        stages, start = [], 0
        for depth in STAGE_DEPTHS:
            stages.append(",".join(tokens[start : start + depth]))
            start += depth
        return "|".join(stages)

    def decode(self, text: str) -> SPOSArch:
        if not isinstance(text, str):
            raise ValueError(f"bad token {text!r}: a SPOS arch string must be a string, "
                             f"got {type(text).__name__}")
        stages = text.strip().split("|")
        if len(stages) != len(STAGE_DEPTHS):
            raise ValueError(f"bad token {text!r}: a SPOS arch string has {len(STAGE_DEPTHS)} "
                             f"stages joined by '|', found {len(stages)}")
        arch: list[tuple[str, float]] = []
        for number, (stage, depth) in enumerate(zip(stages, STAGE_DEPTHS), start=1):
            tokens = stage.split(",")
            if len(tokens) != depth:
                raise ValueError(f"bad token {stage!r}: stage {number} has {depth} blocks joined "
                                 f"by ',', found {len(tokens)}")
            arch.extend(self._decode_token(token) for token in tokens)
        return tuple(arch)

    def _decode_token(self, token: str) -> tuple[str, float]:
        if not token:
            raise ValueError("bad token '': empty block token; write blocks like shuf_k3_m1.0")
        parts = token.split("_")
        if len(parts) != 3:
            raise ValueError(f"bad token {token!r}: a block is written {{op}}_k{{kernel}}_m{{scale}},"
                             " e.g. shuf_k3_m1.0")
        kind, kernel, scale = parts
        if kind not in {op.split("_")[0] for op in OPS}:
            raise ValueError(f"bad token {token!r}: unknown op {kind!r}; choose from {list(OPS)}")
        if f"{kind}_{kernel}" not in OPS:
            raise ValueError(f"bad token {token!r}: unknown kernel {kernel!r} for op {kind!r}; "
                             f"choose from {list(OPS)}")
        texts = [f"m{s:.1f}" for s in SCALES]
        if scale not in texts:
            raise ValueError(f"bad token {token!r}: scale {scale!r} is not in the choices {texts}")
        return f"{kind}_{kernel}", SCALES[texts.index(scale)]

    def to_json(self, arch: SPOSArch) -> dict[str, Any]:
        self._validate(arch)
        data: dict[str, Any] = {}
        for label, (op, scale) in zip(LABELS, arch):
            data[f"{label}.op"] = op
            data[f"{label}.scale"] = scale
        return data

    def from_json(self, data: dict[str, Any]) -> SPOSArch:
        if not isinstance(data, dict):
            raise ValueError("a SPOS JSON arch must be an object like {'stage1.block0.op': 'shuf_k3', "
                             "'stage1.block0.scale': 1.0, ...}")
        expected = [f"{label}.{part}" for label in LABELS for part in ("op", "scale")]
        unknown = sorted(set(data) - set(expected), key=str)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; fields are stageS.blockB.op/.scale")
        missing = [field for field in expected if field not in data]
        if missing:
            raise ValueError(f"missing field {missing[0]!r}")
        arch = []
        for label in LABELS:
            op, scale = data[f"{label}.op"], data[f"{label}.scale"]
            if op not in OPS:
                raise ValueError(f"bad field {label}.op={op!r}: choose from {list(OPS)}")
            if not self._is_scale(scale):
                raise ValueError(f"bad field {label}.scale={scale!r}: choose from {list(SCALES)}")
            arch.append((op, float(scale)))
        return tuple(arch)

    @staticmethod
    def _is_scale(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value in SCALES

    def _validate(self, arch: Any) -> None:
        if not isinstance(arch, tuple) or len(arch) != NUM_BLOCKS:
            raise ValueError(f"a SPOS arch is a tuple of {NUM_BLOCKS} (op, scale) pairs, got {arch!r}")
        for label, block in zip(LABELS, arch):
            if not isinstance(block, tuple) or len(block) != 2:
                raise ValueError(f"bad token {block!r} at {label}: a block is an (op, scale) pair")
            if not isinstance(block[0], str) or block[0] not in OPS:
                raise ValueError(f"bad token {block!r} at {label}: op must be one of {list(OPS)}")
            if not self._is_scale(block[1]):
                raise ValueError(f"bad token {block!r} at {label}: scale must be one of {list(SCALES)}")

    # -- exploring -------------------------------------------------------------------------------
    def sample_with(self, choose: Chooser) -> SPOSArch:
        return tuple((choose(f"{label}.op", OPS), choose(f"{label}.scale", SCALES)) for label in LABELS)

    def mutate(self, arch: SPOSArch, rng: random.Random) -> SPOSArch:
        self._validate(arch)
        slot = rng.randrange(2 * NUM_BLOCKS)
        index, blocks = slot // 2, list(arch)
        op, scale = arch[index]
        if slot % 2 == 0:
            op = rng.choice([o for o in OPS if o != op])
        else:
            scale = rng.choice([s for s in SCALES if s != scale])
        blocks[index] = (op, scale)
        return tuple(blocks)

    def size(self) -> int:
        return (len(OPS) * len(SCALES)) ** NUM_BLOCKS

    def choices(self) -> dict[str, Any]:
        return {
            "operations": list(OPS),
            "channel_scales": list(SCALES),
            "stage_depths": list(STAGE_DEPTHS),
            "stage_channels": list(STAGE_CHANNELS),
            "stem_channels": STEM_CHANNELS,
            "head_channels": HEAD_CHANNELS,
            "example": self.encode((("shuf_k3", 1.0),) * NUM_BLOCKS),
        }

    # -- building and costing --------------------------------------------------------------------
    def build(self, arch: SPOSArch, num_classes: int | None = None) -> nn.Module:
        """The network is exactly the sequence of its block modules, so block costs sum to it."""
        self._validate(arch)
        specs = layout(arch, self.classes(num_classes))
        return nn.Sequential(*(make_block(kind, shape[2], fields) for kind, shape, fields in specs))

    def blocks(self, arch: SPOSArch, num_classes: int | None = None) -> list[str]:
        self._validate(arch)
        specs = layout(arch, self.classes(num_classes))
        return [block_key(kind, input=shape, **fields) for kind, shape, fields in specs]

    def all_blocks(
        self, resolutions: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> set[str]:
        self.check_resolutions(resolutions)
        keys: set[str] = set()
        for op in OPS:
            for scale in SCALES:
                keys.update(self.blocks(((op, scale),) * NUM_BLOCKS, num_classes))
        return keys

    def block_parts(self, text: str) -> list[str]:
        """``stem``, ``head`` and per choice block ``<stage><0 for its first block, else 1>|<token>``:
        a stage's stride-1 blocks share shapes."""
        stages = text.strip().split("|")
        if len(stages) != len(STAGE_DEPTHS):
            raise ValueError(f"bad token {text!r}: a SPOS arch string has {len(STAGE_DEPTHS)} stages")
        parts = ["stem", "head"]
        for stage, (stage_text, depth) in enumerate(zip(stages, STAGE_DEPTHS)):
            tokens = stage_text.split(",")
            if len(tokens) != depth:
                raise ValueError(f"bad token {stage_text!r}: stage {stage + 1} has {depth} blocks")
            parts.append(f"{stage}0|{tokens[0]}")
            parts += map(f"{stage}1|".__add__, tokens[1:])
        return parts

    def part_blocks(self, part: str, num_classes: int | None = None) -> list[str]:
        """Read off ``blocks`` of a network made of the part's block alone, so shapes have one source."""
        position, _, token = part.partition("|")
        block = (OPS[0], SCALES[0]) if part in ("stem", "head") else self._decode_token(token)
        keys = self.blocks((block,) * NUM_BLOCKS, num_classes)
        if part == "stem":
            return keys[:1]
        if part == "head":
            return keys[-1:]
        stage, later = int(position[0]), int(position[1])
        return [keys[1 + sum(STAGE_DEPTHS[:stage]) + later]]

    def make_block(self, kind: str, channels: int, fields: dict[str, str]) -> nn.Module:
        return make_block(kind, channels, {name: int(value) for name, value in fields.items()})


register(ShuffleNetV2Space())
