"""The MetaFormer space's architectures as data: a stage's choices, the canonical string (one
``<mixer>_d<depth>_w<width>_r<ratio>`` token per stage, joined by '|'), the JSON form and their checks.

``searchspaces.metaformer`` builds and costs the networks; this module only reads and writes archs, and
every error it raises names the bad token or field.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

MIXERS = ("identity", "pool", "sepconv", "attention")
DEPTHS = ((1, 2, 3), (1, 2, 3), (2, 4, 6, 8), (1, 2, 3))
WIDTHS = ((32, 64), (64, 128), (192, 256, 320), (384, 512))
MLP_RATIOS = (2, 3, 4)
FIELDS = ("mixer", "depth", "width", "mlp_ratio")
NUM_STAGES = 4
_TOKEN = re.compile(r"^([a-z]+)_d([1-9][0-9]*)_w([1-9][0-9]*)_r([1-9][0-9]*)$")


class Stage(NamedTuple):
    """One stage's choices; a plain (immutable, hashable) tuple with named fields."""

    mixer: str
    depth: int
    width: int
    mlp_ratio: int


MetaFormerArch = tuple[Stage, Stage, Stage, Stage]


def stage_options(stage: int) -> dict[str, tuple]:
    """The choices of stage ``stage`` (0-based), by field."""
    return {"mixer": MIXERS, "depth": DEPTHS[stage], "width": WIDTHS[stage], "mlp_ratio": MLP_RATIOS}


def choice_problem(stage: int, field: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``field`` of stage ``stage`` (0-based), or None if it is.

    Booleans and floats are refused even where they compare equal to a choice (True == 1).
    """
    options = stage_options(stage)[field]
    if field == "mixer":
        if isinstance(value, str) and value in options:
            return None
        return f"unknown mixer {value!r}; choose from {list(options)}"
    if isinstance(value, int) and not isinstance(value, bool) and value in options:
        return None
    return f"{field} {value!r} is not a stage {stage + 1} choice; choose from {list(options)}"



def encode_arch(arch: MetaFormerArch) -> str:
    """The canonical string of a valid ``arch``."""
    validate_arch(arch)
    return "|".join(f"{m}_d{d}_w{w}_r{r}" for m, d, w, r in arch)


def decode_arch(text: str) -> MetaFormerArch:
    """Parse a canonical string; ``ValueError`` naming the bad token."""
    if not isinstance(text, str):
        raise ValueError(
            f"bad token {str(text)!r}: a MetaFormer arch string must be a string, "
            f"got {type(text).__name__}"
        )
    tokens = text.strip().split("|")
    if len(tokens) != NUM_STAGES:
        raise ValueError(
            f"bad token {text!r}: a MetaFormer arch string has {NUM_STAGES} stages joined by "
            f"'|', found {len(tokens)}"
        )
    return tuple(decode_stage(i, t) for i, t in enumerate(tokens))  # type: ignore[return-value]


def decode_stage(index: int, token: str) -> Stage:
    """Parse the token of stage ``index`` (0-based); ``ValueError`` naming the bad token."""
    match = _TOKEN.match(token)
    if not match:
        why = "empty stage token" if not token else "garbled stage token"
        raise ValueError(
            f"bad token {token!r}: {why} for stage {index + 1}; expected "
            "<mixer>_d<depth>_w<width>_r<mlp ratio>, e.g. pool_d2_w64_r4"
        )
    mixer, *numbers = match.groups()
    stage = Stage(mixer, *(int(n) for n in numbers))
    for field, value in zip(FIELDS, stage):
        problem = choice_problem(index, field, value)
        if problem:
            raise ValueError(f"bad token {token!r}: {problem}")
    return stage


def arch_to_json(arch: MetaFormerArch) -> dict[str, Any]:
    """``{"stage1.mixer": "pool", ...}``: every stage's choices, labelled."""
    validate_arch(arch)
    return {f"stage{i + 1}.{f}": v for i, s in enumerate(arch) for f, v in zip(FIELDS, s)}


def arch_from_json(data: dict[str, Any]) -> MetaFormerArch:
    """Inverse of ``arch_to_json``; ``ValueError`` naming the bad field."""
    if not isinstance(data, dict):
        raise ValueError("a MetaFormer JSON arch must be an object like {'stage1.mixer': 'pool'}")
    expected = [f"stage{i + 1}.{field}" for i in range(NUM_STAGES) for field in FIELDS]
    unknown = sorted(set(data) - set(expected), key=str)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; fields are {expected}")
    missing = [name for name in expected if name not in data]
    if missing:
        raise ValueError(f"missing field {missing[0]!r}")
    for name in expected:
        stage, field = int(name[5]) - 1, name.split(".")[1]
        problem = choice_problem(stage, field, data[name])
        if problem:
            raise ValueError(f"bad field {name!r}: {problem}")
    return tuple(
        Stage(*(data[f"stage{i + 1}.{f}"] for f in FIELDS)) for i in range(NUM_STAGES)
    )  # type: ignore[return-value]


def validate_arch(arch: Any) -> None:
    """``ValueError`` naming the bad stage or choice unless ``arch`` is a tuple of valid stages."""
    if not isinstance(arch, tuple) or len(arch) != NUM_STAGES:
        raise ValueError(
            f"a MetaFormer arch is a tuple of {NUM_STAGES} stages "
            f"(mixer, depth, width, mlp_ratio), got {arch!r}"
        )
    for index, stage in enumerate(arch):
        if not isinstance(stage, tuple) or len(stage) != len(FIELDS):
            raise ValueError(
                f"bad token {stage!r} for stage {index + 1}: a stage is a tuple {FIELDS}"
            )
        for field, value in zip(FIELDS, stage):
            problem = choice_problem(index, field, value)
            if problem:
                raise ValueError(f"bad token {value!r} for stage{index + 1}.{field}: {problem}")
