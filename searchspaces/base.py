"""The contract every search space implements, and the block-key convention.

A candidate ("arch") is an immutable value owned by its space. Each space gives it three forms:
a canonical human-readable string (timm-style block tokens), a plain JSON form, and a stable hash
of the canonical string. Block keys follow once-for-all's latency-table practice: one key per
*block* (not per op), naming the block type and every shape that changes its cost, so that a
latency lookup table keyed by them captures fusion inside a block.
"""

from __future__ import annotations

import hashlib
import random
import re
from abc import ABC, abstractmethod
from typing import Any, Callable, Hashable, Sequence

from torch import nn

Arch = Hashable
Chooser = Callable[[str, Sequence[Any]], Any]

_KEY_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
_KEY_VALUE = re.compile(r"^[A-Za-z0-9_.x]+$")


def block_key(kind: str, **fields: Any) -> str:
    """Format a block key: ``kind-field:value-field:value`` (OFA's ``type-input:HxWxC-...`` shape).

    Shapes are passed as tuples and written ``HxWxC``; booleans are written 0/1.
    """
    parts = [kind]
    for name, value in fields.items():
        if isinstance(value, tuple):
            value = "x".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = int(value)
        text = str(value)
        if not _KEY_FIELD.match(name) or not _KEY_VALUE.match(text):
            raise ValueError(f"block key field {name}={text!r} cannot be written in a key")
        parts.append(f"{name}:{text}")
    return "-".join(parts)


def parse_block_key(key: str) -> tuple[str, dict[str, str]]:
    """Split a block key into its kind and its raw field values (strings)."""
    kind, *fields = key.split("-")
    parsed: dict[str, str] = {}
    for field in fields:
        name, sep, value = field.partition(":")
        if not sep or not name or not value:
            raise ValueError(f"malformed block key {key!r}: bad field {field!r}")
        parsed[name] = value
    return kind, parsed


def parse_shape(text: str) -> tuple[int, ...]:
    """``'56x56x24'`` -> ``(56, 56, 24)``."""
    try:
        return tuple(int(v) for v in text.split("x"))
    except ValueError:
        raise ValueError(f"malformed shape {text!r} in a block key") from None


def conv_out(size: int, kernel: int, stride: int) -> int:
    """Spatial size after a 'same'-padded (padding = kernel // 2) convolution or pooling."""
    pad = kernel // 2
    return (size + 2 * pad - kernel) // stride + 1


class SearchSpace(ABC):
    """A registered search space. Subclasses set the class attributes and implement the methods.

    Entry points used across the project: ``sample``, ``mutate``, ``encode``, ``decode``, ``to_json``,
    ``from_json``, ``arch_hash``, ``size``, ``build``, ``resolution``, ``blocks``, ``all_blocks``,
    ``block_module``, ``describe``, ``classes`` and ``check_resolutions``.
    """

    name: str = ""
    title: str = ""
    reference: str = ""
    default_num_classes: int = 1000
    resolutions: tuple[int, ...] = (224,)
    # Published networks written in the space: {name: canonical string}.
    published: dict[str, str] = {}
    # Block key fields that pick which operation a block runs (NB201's edge op, MetaFormer's token
    # mixer), as opposed to its shape: with the block type they make its kind (``block_kind``).
    operation_fields: tuple[str, ...] = ()
    # Names of ``structure_features``: what a sum of block latencies cannot see about a network.
    structure_feature_names: tuple[str, ...] = ()

    # -- encodings -------------------------------------------------------------------------------
    @abstractmethod
    def encode(self, arch: Arch) -> str:
        """The canonical string of ``arch``."""

    @abstractmethod
    def decode(self, text: str) -> Arch:
        """Parse a canonical string; raise ``ValueError`` naming the bad token."""

    @abstractmethod
    def to_json(self, arch: Arch) -> dict[str, Any]:
        """A plain JSON-able dict of labelled choices."""

    @abstractmethod
    def from_json(self, data: dict[str, Any]) -> Arch:
        """Inverse of ``to_json``; raise ``ValueError`` naming the bad field."""

    def arch_hash(self, arch: Arch) -> str:
        """Stable 16-hex-digit hash of the space name and the canonical string."""
        text = f"{self.name}:{self.encode(arch)}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # -- exploring -------------------------------------------------------------------------------
    def sample(self, rng: random.Random) -> Arch:
        """A uniformly drawn candidate (uniform per choice)."""
        return self.sample_with(lambda name, options: rng.choice(options))

    @abstractmethod
    def sample_with(self, choose: Chooser) -> Arch:
        """A candidate made of named choices: ``choose(name, options)`` returns one of ``options``.

        Names are the keys of ``to_json``; a choice is asked only when the candidate uses it (a
        stage's layers after its depth), so a define-by-run optimiser (Optuna) can drive it.
        """

    @abstractmethod
    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """One valid neighbour of ``arch`` that differs from it in exactly one choice."""

    @abstractmethod
    def size(self) -> int:
        """The number of distinct candidates in the space."""

    @abstractmethod
    def choices(self) -> dict[str, Any]:
        """The choices of the space, as plain data, for documentation and the API."""

    # -- building and costing --------------------------------------------------------------------
    @abstractmethod
    def build(self, arch: Arch, num_classes: int | None = None) -> nn.Module:
        """A freshly initialised ``nn.Module`` (NCHW input at ``resolution(arch)``)."""

    def resolution(self, arch: Arch) -> int:
        """The input resolution (square) that ``arch`` takes."""
        return self.resolutions[0]

    @abstractmethod
    def blocks(self, arch: Arch, num_classes: int | None = None) -> list[str]:
        """The block keys of ``arch`` in network order (repeats kept: latency sums over them)."""

    def block_parts(self, text: str) -> list[str]:
        """A canonical string cut into parts whose blocks (``part_blocks``), pooled, are the blocks of
        ``decode(text)`` as a multiset (order aside). The predictor's fast path prices each distinct
        part once per profile, so a space whose blocks follow from positional tokens makes few
        parts; they are strings because a string keeps its hash and a tuple computes it again.

        Cheap and unvalidated: for a string ``decode`` refuses, this or ``part_blocks`` of one of the
        parts raises ``ValueError`` (not necessarily ``decode``'s message), and a part's blocks
        depend on the part alone. The default is one part, the whole string.
        """
        return [text]

    def structure_features(self, arch: Arch) -> dict[str, float]:
        """Features of the network's structure that a device's latency may depend on beyond the sum
        of its blocks (``structure_feature_names``, each present); none by default."""
        return {}

    def constant_output(self, arch: Arch) -> bool:
        """Whether the network's output cannot depend on its input (a converter may fold it away
        whole); never, by default."""
        return False

    def part_blocks(self, part: str, num_classes: int | None = None) -> list[str]:
        """The block keys of one part of ``block_parts``; ``ValueError`` for a part of a bad string."""
        return self.blocks(self.decode(part), num_classes)

    @abstractmethod
    def all_blocks(
        self, resolutions: tuple[int, ...] | None = None, num_classes: int | None = None
    ) -> set[str]:
        """Every block key the space can produce at the given resolutions (default: all)."""

    def block_kind(self, key: str) -> str:
        """The kind of a block key: its type, plus its operation fields, e.g. ``nb201_edge[op=none]``.

        Latency calibration may scale each kind on its own (``nas.latency``): blocks of one kind share
        how their cost alone relates to their cost inside a network.
        """
        kind, fields = parse_block_key(key)
        picked = [f"{name}={fields[name]}" for name in self.operation_fields if name in fields]
        return f"{kind}[{','.join(picked)}]" if picked else kind

    def block_module(self, key: str) -> tuple[nn.Module, tuple[int, int, int]]:
        """The module a block key stands for and its input shape (C, H, W), for profiling."""
        kind, fields = parse_block_key(key)
        if "input" not in fields:
            raise ValueError(f"block key {key!r} lacks field 'input'")
        height, width, channels = parse_shape(fields.pop("input"))
        try:
            module = self.make_block(kind, channels, fields)
        except KeyError as missing:
            raise ValueError(f"block key {key!r} lacks field {missing}") from None
        except ValueError as error:
            raise ValueError(f"block key {key!r}: {error}") from None
        return module, (channels, height, width)

    @abstractmethod
    def make_block(self, kind: str, channels: int, fields: dict[str, str]) -> nn.Module:
        """The module for a block of ``kind`` with ``channels`` input channels and the key's other
        fields (raw strings); ``ValueError`` for an unknown kind."""

    def describe(self) -> dict[str, Any]:
        """A summary of the space for listings: name, size, resolutions, reference and choices."""
        return {
            "name": self.name,
            "title": self.title,
            "reference": self.reference,
            "size": self.size(),
            "resolutions": list(self.resolutions),
            "default_num_classes": self.default_num_classes,
            "num_block_keys": len(self.all_blocks()),
            "published": dict(self.published),
            "choices": self.choices(),
        }

    # -- arguments every space checks the same way -----------------------------------------------
    def classes(self, num_classes: int | None) -> int:
        """The class count of a network built for ``num_classes`` (None: ``default_num_classes``);
        ``ValueError`` unless it is a positive integer."""
        classes = self.default_num_classes if num_classes is None else num_classes
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        return classes

    def check_resolutions(self, resolutions: tuple[int, ...] | None) -> tuple[int, ...]:
        """``resolutions`` as a tuple (None: all of the space's); ``ValueError`` naming the first
        resolution the space does not have."""
        if resolutions is None:
            return self.resolutions
        bad = [r for r in resolutions if r not in self.resolutions]
        if bad:
            raise ValueError(
                f"resolution {bad[0]} is not in space {self.name!r}; "
                f"choose from {list(self.resolutions)}"
            )
        return tuple(resolutions)
