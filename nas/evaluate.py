"""Evaluation of one candidate: the one function a worker calls.

``evaluate(arch, space, proxies, data, profile) -> Metrics`` builds the candidate as a real module,
scores it with the configured zero-cost proxies on the data batch (resized to the candidate's
resolution when the space has several), counts its parameters and multiply-adds, and predicts its
latency from the device profile. It reads nothing but its arguments and writes nothing, so it runs
unchanged in this process or on a Ray worker, and the same inputs give the same metrics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import searchspaces
from nas import proxies as proxy_registry
from nas.datasets.calibration import CalibrationSet
from nas.errors import InvalidField
from nas.latency import Profile, predict
from nas.proxies import ProxyData
from nas.proxies.data import calibration_data, resize_to

# Counted for every candidate (cheap): the params and macs objectives and constraints read them.
COUNTS = ("params", "macs")
# MeCo: one image, 0.08 s per NAS-Bench-201 cell and 0.5 s per MobileNetV3 here, and the best single
# proxy's rank correlation on NAS-Bench-201 (0.92; synflow's 0.78): the most rank quality per second
# (docs/benchmarks.md, "Choosing the search's objective").
DEFAULT_PROXY = "meco"
BUILT_IN_DATA = ("cifar10_sample", "synthetic")


@dataclass(frozen=True)
class ProxyConfig:
    """Which proxies score a candidate, and on what data."""

    proxies: tuple[str, ...] = (DEFAULT_PROXY,)
    ensemble: bool = False
    batch_size: int = 64
    data: str = "cifar10_sample"  # or "synthetic", or an uploaded dataset's name
    data_seed: int = 0
    seed: int = 0  # seeds the initial weights

    def __post_init__(self) -> None:
        if not self.proxies:
            raise InvalidField("proxies", "name at least one proxy")
        for name in self.proxies:
            try:
                proxy_registry.get(name)
            except ValueError as error:
                raise InvalidField("proxies", str(error)) from None
        if len(set(self.proxies)) != len(self.proxies):
            raise InvalidField("proxies", "a proxy is named twice")
        if self.ensemble and len(self.proxies) < 2:
            raise InvalidField("ensemble", "name at least two proxies")
        if not self.ensemble and len(self.proxies) != 1:
            raise InvalidField("proxies", "several proxies need the ensemble (--ensemble)")
        if self.batch_size < 1:
            raise InvalidField("batch_size", f"must be at least 1, got {self.batch_size}")

    @property
    def computed(self) -> tuple[str, ...]:
        """The proxies ``evaluate`` computes: the configured ones and the counts."""
        return tuple(dict.fromkeys((*self.proxies, *COUNTS)))

    def key(self) -> str:
        """What identifies these settings in the score cache (same key: same scores)."""
        settings = {**asdict(self), "proxies": sorted(self.computed), "v": 1}
        revisions = {name: proxy_registry.get(name).revision for name in self.computed}
        revised = {name: revision for name, revision in revisions.items() if revision != 1}
        if revised:  # only then: the keys of sets of first-revision proxies stay as they were
            settings["revisions"] = revised
        settings.pop("ensemble")  # how scores combine, not what they are
        if not self.needs_data():
            for name in ("batch_size", "data", "data_seed"):
                settings.pop(name)
        text = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def needs_data(self) -> bool:
        return any(proxy_registry.get(name).needs_data for name in self.proxies)


@dataclass(frozen=True)
class Metrics:
    arch: str  # canonical string
    arch_hash: str
    scores: dict[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0
    params: int = 0
    macs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    arch: Any,
    space: searchspaces.SearchSpace | str,
    proxies: ProxyConfig,
    data: ProxyData,
    profile: Profile,
    *,
    scores: dict[str, float] | None = None,
    latency_ms: float | None = None,
) -> Metrics:
    """The metrics of one candidate (an arch object or its canonical string).

    ``scores`` or ``latency_ms`` known from a cache skip that part of the work.
    """
    space = searchspaces.get(space) if isinstance(space, str) else space
    if isinstance(arch, str):
        arch = space.decode(arch)
    if scores is None:
        inputs = resize_to(data.inputs, space.resolution(arch))
        num_classes = profile.num_classes
        scores = proxy_registry.compute(
            lambda: space.build(arch, num_classes), inputs, data.targets, proxies.computed,
            seed=proxies.seed,
        )
    if latency_ms is None:
        latency_ms = predict(profile, arch, space)
    return Metrics(
        arch=space.encode(arch),
        arch_hash=space.arch_hash(arch),
        scores=scores,
        latency_ms=float(latency_ms),
        params=int(scores["params"]),
        macs=int(scores["macs"]),
    )


def load_data(config: ProxyConfig, space: searchspaces.SearchSpace, num_classes: int,
              uploaded: CalibrationSet | None = None) -> ProxyData:
    """The data batch a search scores on, at the space's largest resolution (``evaluate`` resizes).

    ``config.data`` names a built-in batch, or an uploaded dataset whose content is ``uploaded``.
    Data-free proxies (synflow, the counts) read only the batch's shape, so they get one synthetic
    image whatever the configuration says.
    """
    if config.data not in BUILT_IN_DATA and uploaded is None:
        raise InvalidField("data", f"unknown dataset {config.data!r}; built in: {', '.join(BUILT_IN_DATA)}")
    resolution = max(space.resolutions)
    if not config.needs_data():
        return proxy_registry.synthetic_data(1, resolution, num_classes, seed=config.data_seed)
    if config.data == "synthetic":
        return proxy_registry.synthetic_data(config.batch_size, resolution, num_classes, seed=config.data_seed)
    if config.data == "cifar10_sample":
        return proxy_registry.cifar10_data(config.batch_size, resolution, seed=config.data_seed)
    if uploaded.num_classes > num_classes:
        raise InvalidField("data", f"dataset {config.data!r} has {uploaded.num_classes} classes; the networks "
                         f"have {num_classes} outputs (the device profile's num_classes)")
    return calibration_data(uploaded, config.data, config.batch_size, resolution, seed=config.data_seed)
