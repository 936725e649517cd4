"""Pydantic response and request models of the REST API.

What a generated client reads from them: closed sets of words are named enums (``SearchStatus``,
``Strategy``, ``CandidateSort``, ``ModelFormat``) whose values are the words the API always sent;
timestamps are ``format: date-time`` (RFC 3339, written as ``datetime.isoformat`` writes them, with
``+00:00``); an integer that may pass 2**53 (a space's size) is a decimal string, which JavaScript
would otherwise round silently.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

from nas.latency.measurements import MAX_MS
from nas.search import Strategy
from nas.storage import SEARCH_STATUSES, SORTS


def _words(name: str, words, doc: str) -> type[StrEnum]:
    """A named enum (its own schema under components) of the words the API sends and accepts."""
    enum = StrEnum(name, [(word, word) for word in words], module=__name__)
    enum.__doc__ = doc
    return enum


SearchStatus = _words("SearchStatus", SEARCH_STATUSES, "A search's status: queued, then running, then one of "
                      "succeeded, failed or cancelled.")
CandidateSort = _words("CandidateSort", SORTS, "The column candidates are sorted by (created: evaluation order).")
ModelFormat = _words("ModelFormat", ("onnx", "json"), "An export of a candidate: an ONNX file or a JSON architecture.")

Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-01-31T12:00:00.123456+00:00"]}),
]
BigInt = Annotated[
    int,
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+$", "examples": ["15625"],
                    "description": "a decimal string: the value may pass 2**53, which a JSON number loses in "
                                   "JavaScript and other float-based readers"}),
]


def _owner() -> Any:
    return Field(None, description="the name of the API key that made it; null: shipped or built in, made by "
                 "the service, or made while auth was off")


class Role(StrEnum):
    viewer = "viewer"
    member = "member"
    admin = "admin"


class AuthMode(StrEnum):
    off = "off"
    required = "required"


class Health(BaseModel):
    """Without a key where one is required, only ``status``, ``version`` and ``auth``; the rest is null."""

    status: str = Field(examples=["ok"])
    version: str
    auth: AuthMode = Field(description="off: no key needed (a loopback service); required: "
                           "`Authorization: Bearer <key>` on every other route")
    database: str | None = Field(None, description="the database backend: sqlite or postgresql", examples=["sqlite"])
    database_url: str | None = Field(None, description="where it is, password hidden")
    ray: dict[str, Any] | None = Field(None, description="the Ray the searches run on: address and CPUs (null: none)")
    cpu: str | None = Field(None, description="this server's CPU, as `nas profile` writes it into device.hardware",
                            examples=["x86_64, 2 cores, AMD EPYC (family 23 model 1, 1996 MHz, AVX2)"])
    default_device: str | None = Field(None, description="the device a search that names none uses: NAS_DEFAULT_DEVICE, "
                                "else the shipped device whose tables name this CPU, else this machine's own "
                                "device, fitted from networks timed here on first use",
                                examples=["x86-64-2core-zen1"])
    default_latency: str | None = Field(None, description="how the default device's profiles were made, in words")
    calibrating: list[str] = Field(default_factory=list,
                                   description="spaces whose profile of this machine is being fitted now")


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "ci-bot", "role": "member"}]})

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="who holds it: 1-64 letters, "
                      "digits, '.', '_' or '-'; never reused, even once revoked")
    role: Role = Field(Role.member, description="viewer: reads; member: also submits searches, registers "
                       "devices, profiles and datasets, changes its own; admin: everything, keys too")


class KeyOut(BaseModel):
    name: str
    role: Role
    created_by: str | None = Field(description="the key that made it (null: the CLI or NAS_ADMIN_KEY)")
    created_at: Timestamp
    last_used_at: Timestamp | None = Field(description="to the minute")
    revoked_at: Timestamp | None


class NewKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, kept only as a hash",
                     examples=["nas_3q2P0bC5n1s3x7Zr0pYyT2mV8hK4dL6aW9eQ1uJ0iFg"])


class CurrentKey(BaseModel):
    name: str | None = Field(description="the key's name (null: auth is off)")
    role: Role = Field(description="what it may do (auth off: admin)")
    auth: AuthMode


class SpaceSummary(BaseModel):
    name: str = Field(examples=["mobilenetv3"])
    title: str
    reference: str
    size: BigInt = Field(description="number of distinct candidates, as a decimal string (it may pass 2**53)")
    resolutions: list[int]
    default_num_classes: int
    num_block_keys: int = Field(description="latency-table entries the space needs, all resolutions")
    published: dict[str, str] = Field(description="published networks written in the space")


class SpaceDetail(SpaceSummary):
    choices: dict[str, Any] = Field(description="the choices of the space and an example arch string")


class ProxyInfo(BaseModel):
    name: str = Field(examples=["synflow"])
    description: str
    needs_labels: bool = Field(description="needs class labels with the data batch")
    needs_data: bool = Field(description="reads the data batch (False: data-free or Gaussian input)")
    shared_pass: list[str] = Field(description="captures of the engine's shared pass it reads")


class DeviceCreate(BaseModel):
    model_config = {"extra": "forbid", "json_schema_extra": {
        "examples": [{"name": "pixel7-cpu", "hardware": "Pixel 7, Tensor G2, big cores",
                      "description": "ONNX Runtime, 1 thread"}]}}

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                      description="1-64 letters, digits, '.', '_' or '-'; starts with a letter or digit")
    hardware: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)


class FitSummary(BaseModel):
    method: str = Field(description="the model fitted and its prior")
    n: int = Field(description="whole networks timed end to end on the device that it was fitted from")
    reference: str | None = Field(None, description="the block table it scales: device/space")
    tool: str | None = Field(None, description="what timed the networks, as its owner said")


class ProfileSummary(BaseModel):
    id: int
    device: str
    search_space: str
    version: int = Field(description="1 for the device's first profile of the space, then 2, 3, ...")
    runtime: str
    resolutions: list[int]
    block_keys: int = Field(description="entries in the profile's table")
    required_keys: int = Field(description="block keys the space needs at those resolutions")
    coverage: float = Field(description="share of the required keys the table holds (1.0 when admitted)")
    validation: dict[str, Any] | None = Field(
        description="end-to-end check on networks the calibration never saw: n, mape, within_10pct, and where "
        "the profile records them method (held-out, leave-one-out) and spearman"
    )
    fit: FitSummary | None = Field(None, description="how a profile fitted from end-to-end measurements was made "
                                   "(POST /devices/{name}/measurements); null: measured block by block (nas profile)")
    created_at: Timestamp


class MeasurementIn(BaseModel):
    # Strict: a time is a JSON number, never true or "12.5", and NaN or Infinity is refused.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    arch: StrictStr = Field(min_length=1, max_length=4000, description="canonical arch string of the space")
    ms: StrictFloat = Field(gt=0, le=MAX_MS, description="its end-to-end latency on the device, ms")


class DeviceFields(BaseModel):
    """What the fitted profile records of the device (its device.* fields); unset ones get the defaults
    of ``nas.latency.fit``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    hardware: StrictStr | None = Field(None, min_length=1, max_length=200, description="what the device is")
    runtime: StrictStr | None = Field(None, min_length=1, max_length=64, description="e.g. tflite, tensorrt")
    runtime_version: StrictStr | None = Field(None, min_length=1, max_length=64)
    threads: StrictInt | None = Field(None, ge=1, le=1024)
    batch_size: StrictInt | None = Field(None, ge=1, le=65536)
    precision: Literal["fp32", "fp16", "bf16", "int8"] | None = None
    tool: StrictStr | None = Field(None, min_length=1, max_length=200, description="what timed the networks")


class FitQuery(BaseModel):
    """The query of a CSV body: its space, and the device's fields (checked as ``DeviceFields``)."""

    space: str | None = Field(None, description="search space of the networks (GET /spaces); text/csv bodies only, "
                              "and required with them")
    hardware: str | None = Field(None, description="what the device is (text/csv bodies only)")
    runtime: str | None = Field(None, description="e.g. tflite, tensorrt (text/csv bodies only)")
    runtime_version: str | None = Field(None, description="text/csv bodies only")
    threads: int | None = Field(None, description="text/csv bodies only")
    batch_size: int | None = Field(None, description="text/csv bodies only")
    precision: str | None = Field(None, description="fp32, fp16, bf16 or int8 (text/csv bodies only)")
    tool: str | None = Field(None, description="what timed the networks (text/csv bodies only)")


class MeasurementsIn(DeviceFields):
    """The JSON body of POST /devices/{name}/measurements (its example: the route's requestBody)."""

    space: StrictStr = Field(description="search space of the networks (GET /spaces)")
    measurements: list[MeasurementIn] = Field(min_length=1, max_length=10_000,
                                              description="whole networks timed end to end on the device")


class FittedPoint(BaseModel):
    arch: str
    measured_ms: float
    predicted_ms: float = Field(description="predicted by the fit made without this network (leave-one-out)")


class FittedProfileOut(ProfileSummary):
    device_created: bool = Field(description="the device was registered by this request")
    networks: list[FittedPoint] = Field(description="each measured network against its leave-one-out prediction")


class DeviceOut(BaseModel):
    name: str
    hardware: str
    description: str
    shipped: bool = Field(description="measured by the project and shipped with it; its profiles are read-only")
    owner: str | None = _owner()
    created_at: Timestamp
    profiles: list[ProfileSummary] = Field(default_factory=list)
    calibrating: list[str] = Field(default_factory=list, description="spaces this machine's own device is being "
                                   "fitted for now (timing networks here); searches for them wait")


ARCH_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


class SearchOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 7, "status": "succeeded", "space": "nasbench201", "device": "x86-64-2core", "profile_version": 1,
        "waiting": None, "strategy": "tpe", "budget": 24, "seed": 0, "evaluated": 24, "progress": 1.0,
        "hypervolume": 0.61, "history": [[8, 0.42], [16, 0.58], [24, 0.61]], "front_size": 5, "best_score": 41.2,
        "request": {"space": "nasbench201", "budget": 24, "latency_max_ms": 2.5}, "error": None,
        "created_at": "2026-01-31T12:00:00.123456+00:00", "started_at": "2026-01-31T12:00:00.480211+00:00",
        "finished_at": "2026-01-31T12:00:09.902118+00:00"}]})

    id: int
    status: SearchStatus
    space: str
    device: str
    profile_version: int | None = None
    waiting: str | None = Field(None, description="what a queued search waits for besides a free slot: "
                                "this machine's calibration, on a CPU with no shipped table")
    strategy: Strategy
    budget: int
    seed: int | None
    evaluated: int = Field(description="candidates evaluated so far")
    progress: float = Field(description="evaluated / budget")
    hypervolume: float | None
    history: list[list[float]] = Field(description="[evaluated, hypervolume] after every batch")
    front_size: int
    best_score: float | None = Field(description="best score on the front (within the constraints)")
    request: dict[str, Any]
    error: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    owner: str | None = _owner()


Macs = Annotated[int, Field(description="multiply-adds of one image")]
DeprecatedFlops = Annotated[int, Field(deprecated="renamed macs; removed in the next API version",
                                       description="the same value as `macs` (multiply-adds), under its old name")]


class CandidateLinks(BaseModel):
    """Where a candidate's exports are (paths on this server)."""

    model_config = ConfigDict(populate_by_name=True)

    onnx: str = Field(description="the ONNX file (application/octet-stream): downloadCandidateOnnx",
                      examples=["/api/v1/candidates/42/model.onnx"])
    # ``json`` would shadow BaseModel.json; the document and the wire call it json all the same.
    json_: str = Field(alias="json", description="the architecture and its layer list: getCandidateArchitecture",
                       examples=["/api/v1/candidates/42/architecture"])


class CandidateOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 42, "search_id": 7, "arch": ARCH_EXAMPLE, "arch_hash": "9f2c4e1a7b3d5c60", "score": 41.2, "scores": {"synflow": 41.2},
        "latency_ms": 1.93, "params": 402_250, "macs": 57_180_160, "flops": 57_180_160, "feasible": True,
        "is_pareto": True, "created_at": "2026-01-31T12:00:03.512907+00:00",
        "links": {"onnx": "/api/v1/candidates/42/model.onnx", "json": "/api/v1/candidates/42/architecture"}}]})

    id: int
    search_id: int
    arch: str
    arch_hash: str
    score: float
    scores: dict[str, float]
    latency_ms: float
    params: int
    macs: Macs
    flops: DeprecatedFlops
    feasible: bool
    is_pareto: bool
    created_at: Timestamp
    links: CandidateLinks = Field(description="the network exported: its ONNX file and its JSON architecture")


class PlotPoint(BaseModel):
    id: int
    arch: str
    score: float
    latency_ms: float
    params: int
    macs: Macs
    flops: DeprecatedFlops
    feasible: bool


class SearchPlot(BaseModel):
    search: SearchOut
    front: list[PlotPoint] = Field(description="every front candidate, fastest first")
    sample: list[PlotPoint] = Field(description="at most `points` other candidates, every k-th in evaluation order "
                                                "(those the proxy could not score are left out)")
    total: int = Field(description="candidates the search has")
    sampled: int = Field(description="len(sample)")


class CandidatePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CandidateOut]


class DatasetOut(BaseModel):
    name: str = Field(examples=["factory-parts"])
    built_in: bool = Field(description="shipped with the service (cifar10_sample, synthetic)")
    description: str
    num_images: int | None = Field(description="images it holds (null: drawn per search)")
    height: int | None
    width: int | None
    num_classes: int | None = Field(description="labels run from 0 to num_classes - 1")
    dtype: str = Field(description="uint8 (normalised with the dataset's own statistics) or float32")
    sha256: str | None = Field(description="of the uploaded file")
    size_bytes: int | None
    created_at: Timestamp | None
    channel_mean: list[float] | None = Field(None, description="uint8 images: each channel's mean in [0, 1], "
                                             "computed at upload; the proxies' images are normalised with it")
    channel_std: list[float] | None = Field(None, description="uint8 images: each channel's standard deviation")
    owner: str | None = _owner()


class LayerOut(BaseModel):
    name: str = Field(description="qualified module name, as in the module's state dict", examples=["3.mixer.qkv"])
    type: str = Field(examples=["Conv2d"])
    params: int = Field(description="parameters the module holds itself (a container: only its own)")
    output_shape: list[int] | list[list[int]] | None = Field(
        description="of its first call in one forward pass at batch 1 (null: never called)")
    config: dict[str, Any] = Field(description="main hyper-parameters: channels, kernel, stride, groups, features...")


class ArchitectureOut(BaseModel):
    candidate_id: int | None = Field(description="the stored candidate (null: exported from a space and arch)")
    search_id: int | None
    space: str
    arch: str = Field(description="canonical arch string")
    arch_hash: str
    choices: dict[str, Any] = Field(description="the space's JSON form of the arch")
    resolution: int
    input_shape: list[int] = Field(description="N x C x H x W at batch 1")
    num_classes: int = Field(description="the search's device profile's class count")
    params: int
    macs: int = Field(description="multiply-adds of one image, as the candidate's `macs`")
    blocks: list[str] = Field(description="latency-table block keys, in network order")
    layers: list[LayerOut] = Field(description="leaf modules in the order the forward pass calls them")
