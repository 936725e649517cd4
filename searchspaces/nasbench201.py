"""NAS-Bench-201 cell space (Dong & Yang, "NAS-Bench-201", ICLR 2020).

A cell is a DAG of 4 nodes; each of its 6 edges (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2) carries one of 5
operations, so the space holds 5**6 = 15,625 cells. The macro skeleton is the benchmark's: a 3x3 conv
stem (16 channels), three stages of 5 cells (16, 32, 64 channels) joined by ResNet basic blocks with
stride 2, then BN-ReLU, global pooling and a linear classifier. Input: 32x32 (CIFAR).

The canonical string is the benchmark's own arch string, ``|nor_conv_3x3~0|+|...~0|...~1|+|...|``, so
results can be checked against the published tables. Block keys are per edge operation (op and input
shape) plus the cell's node sums, the stem, the two reduction blocks and the head: a cell has no fused
kernel of its own, and per-cell keys would make 46,875 entries to profile.
"""

from __future__ import annotations

import functools
import itertools
import random
from typing import Any

import torch
from torch import nn

from searchspaces.base import Chooser, SearchSpace, block_key
from searchspaces.layers import GlobalAvgPool
from searchspaces.registry import register

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
STAGE_CHANNELS = (16, 32, 64)
CELLS_PER_STAGE = 5
RESOLUTION = 32

NB201Arch = tuple[str, str, str, str, str, str]


class ReLUConvBN(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch),
        )


class Zero(nn.Module):
    """The benchmark's 'none' edge: multiplies by zero (keeps the graph, adds no signal)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(op: str, channels: int) -> nn.Module:
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 operation {op!r}; choose from {list(OPS)}")


def live_edges(arch: NB201Arch) -> tuple[list[bool], bool]:
    """Per edge, whether it lies on a chain of non-``none`` edges from the cell's input (node 0) to its
    output (node 3); and whether any such chain exists (else the cell is cut off)."""
    reached, feeds = {0}, _feeding(arch)
    for target in (1, 2, 3):
        if any(op != "none" and dst == target and src in reached for (dst, src), op in zip(EDGES, arch)):
            reached.add(target)
    live = [op != "none" and src in reached and dst in feeds for (dst, src), op in zip(EDGES, arch)]
    return live, 3 in reached


def unread_edges(arch: NB201Arch) -> list[bool]:
    """Per edge, whether its result is read by nothing: no chain of non-``none`` edges carries it to
    the cell's output (node 3), whatever reaches its own input."""
    feeds = _feeding(arch)
    return [op != "none" and dst not in feeds for (dst, src), op in zip(EDGES, arch)]


def _feeding(arch: NB201Arch) -> set[int]:
    """The nodes from which a chain of non-``none`` edges leads to the cell's output (node 3)."""
    feeds = {3}
    for source in (2, 1, 0):
        if any(op != "none" and src == source and dst in feeds for (dst, src), op in zip(EDGES, arch)):
            feeds.add(source)
    return feeds


def cell_structure(arch: NB201Arch) -> dict[str, float]:
    """``cut_off`` (1.0 where the cell is cut off), ``dead_<op>``: the network's dead edges of each
    operation (over its 15 cells); ``no_output`` (1.0 where only ``none`` edges enter node 3) and
    ``unread_<op>``: the network's edges of each operation whose result nothing reads."""
    live, connected = live_edges(arch)
    unread = unread_edges(arch)
    found = {"cut_off": 0.0 if connected else 1.0}
    for op in OPS[1:]:
        dead = sum(1 for edge, used in zip(arch, live) if edge == op and not used)
        found[f"dead_{op}"] = float(dead * CELLS_PER_STAGE * len(STAGE_CHANNELS))
    found["no_output"] = 1.0 if all(op == "none" for (dst, _), op in zip(EDGES, arch) if dst == 3) else 0.0
    for op in OPS[1:]:
        count = sum(1 for edge, idle in zip(arch, unread) if edge == op and idle)
        found[f"unread_{op}"] = float(count * CELLS_PER_STAGE * len(STAGE_CHANNELS))
    return found


@functools.cache
def _all_structure_features() -> dict[NB201Arch, dict[str, float]]:
    # 15,625 cells, a quarter of a second once: then a prediction reads them instead of tracing each cell
    return {arch: cell_structure(arch) for arch in itertools.product(OPS, repeat=len(EDGES))}


class Cell(nn.Module):
    def __init__(self, arch: NB201Arch, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            total = None
            for index, (dst, src) in enumerate(EDGES):
                if dst == target:
                    out = self.edges[index](nodes[src])
                    total = out if total is None else total + out
            nodes.append(total)
        return nodes[3]


class NodeSums(nn.Module):
    """The additions a cell makes whatever its ops: node 2 adds 2 inputs, node 3 adds 3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + x) + (x + x + x)


class ResNetBasicBlock(nn.Module):
    """The benchmark's reduction block between stages (stride 2, with an avg-pool shortcut)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_ch, out_ch, 3, 2)
        self.conv_b = ReLUConvBN(out_ch, out_ch, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2), nn.Conv2d(in_ch, out_ch, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class Head(nn.Module):
    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.pool = GlobalAvgPool()
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.lastact(x)))


def make_stem() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, STAGE_CHANNELS[0], 3, padding=1, bias=False), nn.BatchNorm2d(STAGE_CHANNELS[0])
    )


class NB201Network(nn.Module):
    def __init__(self, arch: NB201Arch, num_classes: int) -> None:
        super().__init__()
        self.stem = make_stem()
        layers: list[nn.Module] = []
        for stage, channels in enumerate(STAGE_CHANNELS):
            if stage > 0:
                layers.append(ResNetBasicBlock(STAGE_CHANNELS[stage - 1], channels))
            layers.extend(Cell(arch, channels) for _ in range(CELLS_PER_STAGE))
        self.cells = nn.Sequential(*layers)
        self.head = Head(STAGE_CHANNELS[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)))


class NASBench201Space(SearchSpace):
    name = "nasbench201"
    title = "NAS-Bench-201 cells (6 edges x 5 operations)"
    reference = "Dong & Yang, NAS-Bench-201, ICLR 2020"
    operation_fields = ("op",)
    # What a block sum cannot see, as HW-NAS-Bench's Pixel 3 and Raspberry Pi 4 timings (TFLite) show:
    # a converter prunes work whose result nothing reads and folds a constant output, but not always
    # by the same rule. Two readings, each counted over the network's 15 cells per operation:
    # ``cut_off``/``dead_<op>``, the edges on no chain of non-zero edges from the input to the output;
    # ``no_output``/``unread_<op>``, the edges on no such chain to the output only (an op on a zero node
    # still runs). A fit weighs them per device. On those two devices the second reading, with a fit on
    # absolute errors, lifts the Spearman of a fit on all cells from 0.90 to 0.97 (help_latency.py).
    structure_feature_names = ("cut_off", *(f"dead_{op}" for op in OPS[1:]),
                               "no_output", *(f"unread_{op}" for op in OPS[1:]))
    default_num_classes = 10
    resolutions = (RESOLUTION,)
    published = {
        # a cell with the benchmark's top CIFAR-10 test accuracy (94.37%, 200 epochs, seed mean)
        "NB201-top-CIFAR10": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
        "nor_conv_3x3~1|nor_conv_1x1~2|",
    }

    # -- encodings -------------------------------------------------------------------------------
    def encode(self, arch: NB201Arch) -> str:
        self._validate(arch)
        nodes = []
        for target in (1, 2, 3):
            tokens = [f"{arch[i]}~{src}" for i, (dst, src) in enumerate(EDGES) if dst == target]
            nodes.append("|" + "|".join(tokens) + "|")
        return "+".join(nodes)

    def decode(self, text: str) -> NB201Arch:
        if not isinstance(text, str):
            raise ValueError(f"a NAS-Bench-201 arch string must be a string, got {type(text).__name__}")
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise ValueError(
                f"bad token {text!r}: a NAS-Bench-201 arch string has 3 nodes joined by '+', "
                f"found {len(nodes)}"
            )
        ops: list[str] = []
        for target, node in enumerate(nodes, start=1):
            if len(node) < 2 or not (node.startswith("|") and node.endswith("|")):
                raise ValueError(f"bad token {node!r}: node {target} must be written |op~i|...|")
            tokens = node[1:-1].split("|")
            if len(tokens) != target:
                raise ValueError(
                    f"bad token {node!r}: node {target} takes {target} input edge(s), found {len(tokens)}"
                )
            for source, token in enumerate(tokens):
                op, sep, src = token.partition("~")
                if not sep or src != str(source):
                    raise ValueError(
                        f"bad token {token!r}: edge {target}<-{source} must be written {{op}}~{source}"
                    )
                if op not in OPS:
                    raise ValueError(
                        f"bad token {token!r}: unknown operation {op!r}; choose from {list(OPS)}"
                    )
                ops.append(op)
        return tuple(ops)  # type: ignore[return-value]

    def to_json(self, arch: NB201Arch) -> dict[str, Any]:
        self._validate(arch)
        return {f"{dst}<-{src}": op for (dst, src), op in zip(EDGES, arch)}

    def from_json(self, data: dict[str, Any]) -> NB201Arch:
        if not isinstance(data, dict):
            raise ValueError("a NAS-Bench-201 JSON arch must be an object of edges like {'1<-0': op}")
        expected = [f"{dst}<-{src}" for dst, src in EDGES]
        unknown = sorted(set(data) - set(expected))
        if unknown:
            raise ValueError(f"unknown edge {unknown[0]!r}; edges are {expected}")
        missing = [edge for edge in expected if edge not in data]
        if missing:
            raise ValueError(f"missing edge {missing[0]!r}")
        arch = tuple(data[edge] for edge in expected)
        self._validate(arch)  # type: ignore[arg-type]
        return arch  # type: ignore[return-value]

    def _validate(self, arch: Any) -> None:
        if not isinstance(arch, tuple) or len(arch) != len(EDGES):
            raise ValueError(f"a NAS-Bench-201 arch is a tuple of {len(EDGES)} operations, got {arch!r}")
        for (dst, src), op in zip(EDGES, arch):
            if op not in OPS:
                raise ValueError(
                    f"bad token {op!r} on edge {dst}<-{src}: choose from {list(OPS)}"
                )

    # -- exploring -------------------------------------------------------------------------------
    def sample_with(self, choose: Chooser) -> NB201Arch:
        return tuple(choose(f"{dst}<-{src}", OPS) for dst, src in EDGES)  # type: ignore[return-value]

    def mutate(self, arch: NB201Arch, rng: random.Random) -> NB201Arch:
        self._validate(arch)
        edge = rng.randrange(len(EDGES))
        ops = list(arch)
        ops[edge] = rng.choice([op for op in OPS if op != arch[edge]])
        return tuple(ops)  # type: ignore[return-value]

    def size(self) -> int:
        return len(OPS) ** len(EDGES)

    def choices(self) -> dict[str, Any]:
        return {
            "edges": [f"{dst}<-{src}" for dst, src in EDGES],
            "operations": list(OPS),
            "stage_channels": list(STAGE_CHANNELS),
            "cells_per_stage": CELLS_PER_STAGE,
            "example": self.encode(("nor_conv_3x3",) * 6),  # type: ignore[arg-type]
        }

    # -- building and costing --------------------------------------------------------------------
    def build(self, arch: NB201Arch, num_classes: int | None = None) -> nn.Module:
        self._validate(arch)
        return NB201Network(arch, self.classes(num_classes))

    def blocks(self, arch: NB201Arch, num_classes: int | None = None) -> list[str]:
        self._validate(arch)
        classes = self.classes(num_classes)
        keys = [block_key("nb201_stem", input=(RESOLUTION, RESOLUTION, 3), out=STAGE_CHANNELS[0])]
        size = RESOLUTION
        for stage, channels in enumerate(STAGE_CHANNELS):
            if stage > 0:
                keys.append(
                    block_key(
                        "nb201_reduce", input=(size, size, STAGE_CHANNELS[stage - 1]), out=channels
                    )
                )
                size //= 2
            for _ in range(CELLS_PER_STAGE):
                keys.extend(block_key("nb201_edge", input=(size, size, channels), op=op) for op in arch)
                keys.append(block_key("nb201_nodesum", input=(size, size, channels)))
        keys.append(block_key("nb201_head", input=(size, size, STAGE_CHANNELS[-1]), classes=classes))
        return keys

    def constant_output(self, arch: NB201Arch) -> bool:
        return not live_edges(arch)[1]

    def structure_features(self, arch: NB201Arch) -> dict[str, float]:
        features = _all_structure_features().get(arch) if isinstance(arch, tuple) else None
        if features is None:
            self._validate(arch)  # raises, naming the bad operation
        return dict(features)

    def all_blocks(
        self, resolutions: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> set[str]:
        self.check_resolutions(resolutions)
        keys: set[str] = set()
        for op in OPS:
            keys.update(self.blocks((op,) * len(EDGES), num_classes))  # type: ignore[arg-type]
        return keys

    def block_parts(self, text: str) -> list[str]:
        """``fixed`` (the blocks every network has) and each node as ``<node>`` then its text: a
        node's edges make the same keys in every cell of a stage, whatever the other nodes hold."""
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise ValueError(f"bad token {text!r}: a NAS-Bench-201 arch string has 3 nodes joined by '+'")
        return ["fixed", "1" + nodes[0], "2" + nodes[1], "3" + nodes[2]]

    def part_blocks(self, part: str, num_classes: int | None = None) -> list[str]:
        """Read off ``blocks``: the fixed part is an all-``none`` network's blocks other than edges; a
        node is checked by ``decode`` among all-``none`` nodes, and its edges' keys are those at its
        edges' places in every cell (a cell's six edge keys come together, in ``EDGES`` order)."""
        nodes = self.encode(("none",) * len(EDGES)).split("+")  # type: ignore[arg-type]
        if part == "fixed":
            return [key for key in self.blocks(self.decode("+".join(nodes)), num_classes)
                    if not key.startswith("nb201_edge-")]
        target = int(part[0])
        nodes[target - 1] = part[1:]
        edges = [key for key in self.blocks(self.decode("+".join(nodes)), num_classes)
                 if key.startswith("nb201_edge-")]
        return [key for i, (dst, _) in enumerate(EDGES) if dst == target for key in edges[i :: len(EDGES)]]

    def make_block(self, kind: str, channels: int, fields: dict[str, str]) -> nn.Module:
        if kind == "nb201_stem":
            return make_stem()
        if kind == "nb201_reduce":
            return ResNetBasicBlock(channels, int(fields["out"]))
        if kind == "nb201_edge":
            return make_op(fields["op"], channels)
        if kind == "nb201_nodesum":
            return NodeSums()
        if kind == "nb201_head":
            return Head(channels, int(fields["classes"]))
        raise ValueError(f"unknown block kind {kind!r} for space {self.name!r}")


register(NASBench201Space())
