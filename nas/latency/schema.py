"""The device latency profile: a versioned JSON document, and the checks that admit one.

A profile is a lookup table (LUT) of block latencies for one device, runtime and search space, in
once-for-all's manner: one entry per block key (``space.all_blocks``), so fusion inside a block is
measured rather than guessed. Beside the entries it records how they were measured, a fixed
per-inference overhead, a calibration fitted on whole networks, and how well the calibrated sum
predicted a separate validation set. ``latency_tables/FORMAT.md`` documents the fields for
people who measure on their own device.

``validate_profile`` admits a document only if every check passes and otherwise raises
``ProfileError`` (a ``nas.errors.InvalidField``) listing every problem found, each at its field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
)

import searchspaces
from nas.errors import InvalidField, Problem
from nas.latency.measurements import MAX_ARCH_CHARS, MAX_ROWS

SCHEMA_VERSION = 4  # 4 added fit and calibration.structure, 3 speed_check, 2 calibration.kind_scales; older are read
STATISTICS = ("p50", "mean", "min")
DEVICE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_LISTED = 10  # keys named in one problem before "... and N more"
# Bounds on what a profile may hold, each far above what a real one needs: the spaces are ImageNet-sized
# at most (1,000 classes), the largest table has 614 block keys (mobilenetv3 at its 7 resolutions), a
# profile measures 30 + 30 networks and a fitted one holds its measurements (nas.latency.measurements).
MAX_NUM_CLASSES = 100_000
MAX_ENTRIES = 10_000
MAX_RESOLUTIONS = 64
MAX_NETWORKS = MAX_ROWS
MAX_FEATURES = 100  # calibration.kind_scales and calibration.structure

# Unknown fields are refused, and numbers must be JSON numbers of the right kind: lax pydantic would
# read true as 1 and "1.5" as 1.5, which is a mistake in a measured file, never a value.
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
NonNegative = Field(ge=0)


def _iso_date_time(value: Any) -> Any:
    # Lax pydantic would also read a number, or a string of digits, as seconds since 1970.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date-time string, got {type(value).__name__}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date-time such as 2026-11-23T10:00:00Z, got {value!r:.40}") from None


DateTime = Annotated[datetime, BeforeValidator(_iso_date_time)]


def _storable(value: str) -> str:
    if "\x00" in value:  # a NUL is never part of a name or a version, and PostgreSQL text cannot hold one
        raise ValueError("must not contain NUL characters")
    if not value.isascii():
        try:  # JSON's "\ud800" reads as a lone surrogate, which no UTF-8 document (the stored one) can hold
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"must be Unicode text, got a lone surrogate ({value[error.start]!r}) at character "
                             f"{error.start}") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]


class ProfileError(InvalidField):
    """A profile that cannot be admitted: ``problems`` lists each reason at its field; ``source`` (the
    error's ``what``) names the document ("uploaded profile", "profile bad.json")."""

    kind = "profile"

    @classmethod
    def of(cls, *problems: Problem, source: str = "latency profile") -> ProfileError:
        return cls.many(problems, what=source)


class DeviceInfo(BaseModel):
    model_config = _STRICT
    name: str = Field(pattern=DEVICE_NAME_PATTERN)
    hardware: Text = Field(min_length=1, max_length=200)
    runtime: Text = Field(min_length=1, max_length=64)
    runtime_version: Text = Field(min_length=1, max_length=64)
    threads: StrictInt = Field(ge=1)
    batch_size: StrictInt = Field(ge=1)
    precision: Literal["fp32", "fp16", "bf16", "int8"]
    # where the blocks ran; absent: the CPU. cuda: eager on an NVIDIA GPU; cuda-graph: replayed CUDA graphs
    accelerator: Optional[Literal["cuda", "cuda-graph"]] = None


class MeasurementInfo(BaseModel):
    model_config = _STRICT
    warmup: StrictInt = NonNegative
    repeats: StrictInt = Field(ge=1)
    rounds: StrictInt = Field(default=1, ge=1)
    statistic: Literal["p50", "mean", "min"]
    unit: Literal["ms"]
    measured_at: DateTime
    tool: Text = Field(min_length=1, max_length=200)
    duration_s: Optional[StrictFloat] = Field(default=None, ge=0)  # how long profiling took, all stages
    # how the C heap was set while timing (measure.steady_allocator); absent: not pinned, or not recorded
    allocator: Optional[Text] = Field(default=None, max_length=200)
    # a profile merged from sessions measured at different times (``nas merge-profiles``): when each
    # was measured; absent: one session, at ``measured_at``
    sessions: Optional[list[DateTime]] = Field(default=None, min_length=2, max_length=100)


class Entry(BaseModel):
    """One block's timing, in ms, after the overhead was taken off (see ``overhead_ms``)."""

    model_config = _STRICT
    p50: StrictFloat = NonNegative
    mean: StrictFloat = NonNegative
    std: StrictFloat = NonNegative
    min: Optional[StrictFloat] = Field(default=None, ge=0)
    count: StrictInt = Field(ge=1)


class NetworkPoint(BaseModel):
    """A whole network measured end to end, with what the table predicted for it."""

    model_config = _STRICT
    arch: Text = Field(max_length=MAX_ARCH_CHARS)
    measured_ms: StrictFloat = NonNegative
    predicted_ms: StrictFloat = NonNegative


class Calibration(BaseModel):
    """``predicted = a * (overhead_ms + sum of entries) + b``, fitted on ``fit_on`` networks.

    With ``kind_scales`` each entry is first multiplied by the scale of its block's kind
    (``space.block_kind``): ``a * (overhead_ms + sum of scale[kind] * entry) + b``. With
    ``structure`` (schema 4), ``sum of coefficient * feature`` over the network's structural features
    (``space.structure_features``: what a sum of blocks cannot see, such as a cell whose output is
    cut off from its input) is added after ``b``, in ms.
    """

    model_config = _STRICT
    a: StrictFloat = Field(gt=0)
    b: StrictFloat
    fit_on: StrictInt = NonNegative
    method: Text = "least relative squares"
    kind_scales: Optional[dict[str, Annotated[StrictFloat, Field(gt=0)]]] = Field(default=None, max_length=MAX_FEATURES)
    structure: Optional[dict[str, StrictFloat]] = Field(default=None, max_length=MAX_FEATURES)
    networks: list[NetworkPoint] = Field(default=[], max_length=MAX_NETWORKS)


class Validation(BaseModel):
    """How the calibrated table did on networks it was not fitted on.

    ``method`` says how those networks were held out: ``held-out`` (a separate validation set, what
    ``nas profile`` measures) or ``leave-one-out`` / ``k-fold`` (cross-validation of a fitted profile,
    where every measured network is predicted by a fit made without it).
    """

    model_config = _STRICT
    method: Optional[Literal["held-out", "leave-one-out", "k-fold"]] = None
    n: StrictInt = Field(ge=0, le=MAX_NETWORKS)  # networks checked: a count the store keeps as an integer
    mape: Optional[StrictFloat] = Field(default=None, ge=0)
    within_10pct: Optional[StrictFloat] = Field(default=None, ge=0, le=1)
    spearman: Optional[StrictFloat] = Field(default=None, ge=-1, le=1)
    max_ape: Optional[StrictFloat] = Field(default=None, ge=0)
    networks: list[NetworkPoint] = Field(default=[], max_length=MAX_NETWORKS)


class SpeedCheck(BaseModel):
    """Some calibration networks timed again later on the device (``nas speed-check``).

    ``factor`` is the median over them of (time now / time recorded): every prediction is multiplied
    by it, for a device that runs faster or slower than when it was profiled (a shared VM, a phone
    that throttles). ``low`` and ``high`` are the smallest and largest of those ratios.
    """

    model_config = _STRICT
    factor: StrictFloat = Field(gt=0)
    measured_at: DateTime
    networks: StrictInt = Field(ge=1)
    low: StrictFloat = Field(gt=0)
    high: StrictFloat = Field(gt=0)
    tool: Text = Field(min_length=1, max_length=200)


class FitInfo(BaseModel):
    """How a profile was fitted from whole networks timed end to end (``nas.latency.fit_profile``).

    ``reference`` names the table whose entries it scales (``device/space``); ``bank`` the reference
    devices whose fitted coefficients formed the prior (NAS-Bench-201's bank of real devices), if any.
    """

    model_config = _STRICT
    method: Text = Field(min_length=1, max_length=200)
    n: StrictInt = Field(ge=1)
    reference: Optional[Text] = Field(default=None, max_length=200)
    bank: Optional[list[Text]] = Field(default=None, max_length=200)
    tool: Optional[Text] = Field(default=None, max_length=200)


class Profile(BaseModel):
    model_config = _STRICT
    schema_version: Literal[1, 2, 3, 4]
    device: DeviceInfo
    measurement: MeasurementInfo
    search_space: str
    resolutions: list[StrictInt] = Field(min_length=1, max_length=MAX_RESOLUTIONS)
    num_classes: StrictInt = Field(ge=1, le=MAX_NUM_CLASSES)
    entries: dict[str, Entry] = Field(max_length=MAX_ENTRIES)
    overhead_ms: StrictFloat = NonNegative
    calibration: Calibration
    validation: Validation
    speed_check: Optional[SpeedCheck] = None
    fit: Optional[FitInfo] = None
    def to_json(self, indent: int | None = 1) -> str:
        return self.model_dump_json(indent=indent, exclude_none=True)

    def value(self, key: str) -> float:
        """The entry of ``key`` under the profile's statistic."""
        return getattr(self.entries[key], self.measurement.statistic)

    def origin(self) -> str:
        """How the profile was made and how well it predicted networks it was not fitted on, in words."""
        v = self.validation
        held = "leave-one-out" if v.method in ("leave-one-out", "k-fold") else "held-out"
        check = (f"{v.within_10pct:.0%} of {v.n} {held} networks within ±10%" if v.within_10pct is not None
                 else "no validation recorded")
        if self.fit is not None:
            return f"fitted from {self.fit.n} networks timed end to end ({check})"
        return f"measured block by block on {self.device.hardware} ({check})"

    def kinds(self) -> dict[str, str]:
        """``{block key: its kind}`` for every entry (``space.block_kind``)."""
        space = searchspaces.get(self.search_space)
        return {key: space.block_kind(key) for key in self.entries}


def validate_profile(data: Any, source: str = "latency profile") -> Profile:
    """Admit ``data`` (a dict, or JSON text or bytes) as a ``Profile``; ``ProfileError`` otherwise."""
    if isinstance(data, (str, bytes, bytearray)):
        try:
            data = json.loads(data)
        except ValueError as error:  # not JSON, not UTF-8, or an integer of more than 4,300 digits
            raise ProfileError.of(Problem("", f"not JSON: {error}"), source=source) from None
        except RecursionError:  # json's parser recurses once per level of [ or {
            raise ProfileError.of(Problem("", "not JSON: nested too deeply to read"), source=source) from None
    if not isinstance(data, dict):
        raise ProfileError.of(Problem("", f"the document must be a JSON object, got {type(data).__name__}"),
                              source=source)
    problems: list[Problem] = []
    try:
        profile = Profile.model_validate(data)
    except ValidationError as error:
        profile = None
        problems += [_describe(e) for e in error.errors()]
    problems += _semantic_problems(data)
    if data.get("speed_check") is not None and data.get("schema_version") in (1, 2):
        problems.append(Problem("speed_check", f"needs schema_version 3 (version {data['schema_version']} "
                                               "has no such field)"))
    for field in _version_4_fields(data):
        problems.append(Problem(field, f"needs schema_version 4 (version {data['schema_version']} has no such field)"))
    if problems:
        raise ProfileError.of(*problems, source=source)
    return profile


def _version_4_fields(data: dict[str, Any]) -> list[str]:
    if data.get("schema_version") not in (1, 2, 3):
        return []
    calibration = data.get("calibration")
    validation = data.get("validation")
    found = ["fit"] if data.get("fit") is not None else []
    if isinstance(calibration, dict) and calibration.get("structure") is not None:
        found.append("calibration.structure")
    if isinstance(validation, dict) and validation.get("method") is not None:
        found.append("validation.method")
    return found


def _describe(error: dict[str, Any]) -> Problem:
    field = ".".join(str(part) for part in error["loc"])
    return Problem(field, _reason(error, field), label=None if field else "document")


def _reason(error: dict[str, Any], field: str) -> str:
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "finite_number":
        return f"must be a finite number, got {error.get('input')!r}"
    if error["type"] == "value_error":  # our own validators' messages, without pydantic's "Value error, "
        return str(error["ctx"]["error"])
    if field == "measurement.unit":
        return f"must be 'ms', got {error.get('input')!r}"
    return error["msg"]


def _semantic_problems(data: dict[str, Any]) -> list[Problem]:
    """Checks that need the search space; each runs only on fields of the right shape."""
    name = data.get("search_space")
    if not isinstance(name, str):
        return []
    if name not in searchspaces.names():
        return [Problem("search_space", f"unknown space {name!r}; known: {', '.join(searchspaces.names())}")]
    space = searchspaces.get(name)
    problems = []
    resolutions = data.get("resolutions")
    if not (isinstance(resolutions, list) and resolutions and all(type(r) is int for r in resolutions)):
        return problems
    bad = [r for r in resolutions if r not in space.resolutions]
    if bad:
        return [Problem("resolutions", f"{bad} not in space {name!r} (choose from {list(space.resolutions)})")]
    classes = data.get("num_classes")
    entries = data.get("entries")
    if type(classes) is not int or not 1 <= classes <= MAX_NUM_CLASSES or not isinstance(entries, dict):
        return problems
    expected = space.all_blocks(tuple(resolutions), classes)
    missing = sorted(expected - entries.keys())
    extra = sorted(entries.keys() - expected)
    if missing:
        problems.append(Problem("entries", f"{len(missing)} of the space's {len(expected)} block keys are missing "
                                           f"(resolutions {resolutions}, {classes} classes): {_listing(missing)}"))
    if extra:
        problems.append(Problem("entries", f"{len(extra)} keys the space does not produce: {_listing(extra)}"))
    measurement = data.get("measurement")
    statistic = measurement.get("statistic") if isinstance(measurement, dict) else None
    if statistic == "min":
        lacking = sorted(k for k, v in entries.items() if isinstance(v, dict) and v.get("min") is None)
        if lacking:
            problems.append(Problem("entries", f"statistic is 'min' but {len(lacking)} entries lack it: "
                                               f"{_listing(lacking)}"))
    calibration = data.get("calibration")
    structure = calibration.get("structure") if isinstance(calibration, dict) else None
    if isinstance(structure, dict) and structure.keys() - set(space.structure_feature_names):
        known = ", ".join(space.structure_feature_names) or "none"
        unknown = _listing(sorted(structure.keys() - set(space.structure_feature_names)))
        problems.append(Problem("calibration.structure", f"features the space does not have: {unknown} "
                                                         f"(its features: {known})"))
    scales = calibration.get("kind_scales") if isinstance(calibration, dict) else None
    if isinstance(scales, dict):
        if data.get("schema_version") == 1:
            problems.append(Problem("calibration.kind_scales", "needs schema_version 2 (version 1 has no such field)"))
        kinds = {space.block_kind(key) for key in expected}
        if scales.keys() - kinds:
            problems.append(Problem("calibration.kind_scales", f"kinds the space does not have: "
                                    f"{_listing(sorted(scales.keys() - kinds))} (its kinds: {_listing(sorted(kinds))})"))
        if kinds - scales.keys():
            problems.append(Problem("calibration.kind_scales",
                                    f"no scale for kinds {_listing(sorted(kinds - scales.keys()))}"))
    return problems


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED])
    return shown + (f" ... and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else "")

