"""A search request as users write it (REST body, stored JSON, the CLI's flags): every field but the
space has a default, numbers are strict (no NaN, Infinity, booleans or numeric strings), and
``to_config`` turns it into the engine's ``SearchConfig``. Every refusal is ``InvalidField`` naming
the field as the request writes it (``proxy``, ``latency_max_ms``), never an engine name."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

import nas.proxies
import searchspaces
from nas.errors import InvalidField, from_validation
from nas.evaluate import BUILT_IN_DATA, DEFAULT_PROXY, ProxyConfig
from nas.latency import DEFAULT_DEVICE, default_device
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.search import costs
from nas.search.problem import Constraints, Objectives
from nas.search.runner import DEFAULT_BATCH, DEFAULT_STRATEGY, SearchConfig
from nas.search.strategies import STRATEGIES, Strategy
from nas.settings import MAX_BUDGET

# Names before multiply-adds were called macs, still accepted in requests for one API version.
RENAMED = {"flops": "macs"}


def _refuse(message: str) -> PydanticCustomError:
    """A refusal pydantic reports at the field it checks, worded as is (no "Value error, " prefix)."""
    return PydanticCustomError("invalid", message)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, json_schema_extra={"examples": [
        {"space": "mobilenetv3", "budget": 50},
        {"space": "mobilenetv3", "budget": 200, "device": DEFAULT_DEVICE, "strategy": "tpe",
         "latency_max_ms": 12.0, "proxy": "synflow", "seed": 0},
        {"space": "shufflenetv2", "budget": 100, "ensemble": ["synflow", "naswot"], "params_max": 3_000_000},
    ]})

    space: str = Field(description="search space (GET /spaces)")
    budget: int = Field(100, ge=1, le=MAX_BUDGET, description="unique candidates to evaluate")
    device: str = Field(default_factory=default_device, pattern=DEVICE_NAME_PATTERN,
                        description="device whose profile predicts latency (GET /devices); default: the "
                        "shipped device of the server's CPU, else the server's own device, fitted from "
                        "networks timed there on first use (or NAS_DEFAULT_DEVICE)")
    profile_version: int | None = Field(None, ge=1, le=2**31 - 1, description="the device's profile version (default: newest)")
    strategy: Strategy = Field(Strategy(DEFAULT_STRATEGY), description="random, evolution, nsga2 or tpe")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    latency_max_ms: float | None = Field(None, gt=0, description="latency budget on the device, ms")
    params_max: int | None = Field(None, gt=0, description="most parameters a candidate may have")
    macs_max: int | None = Field(None, gt=0, validation_alias=AliasChoices("macs_max", "flops_max"),
                                 description="most multiply-adds a candidate may have (formerly flops_max)")
    proxy: str | None = Field(None, description=f"proxy that scores candidates (default {DEFAULT_PROXY})")
    ensemble: list[str] | None = Field(None, min_length=2, description="proxies whose log-rank sum scores candidates (AZ-NAS)")
    objectives: list[Literal["params", "macs"]] = Field(default_factory=list,
                                                         description="further objectives to minimise")
    data: str = Field("cifar10_sample", description="proxy data: cifar10_sample (real CIFAR-10 images), synthetic, "
                      "or the name of an uploaded dataset (GET /datasets)")
    proxy_batch: int | None = Field(None, ge=1, le=512, description="images per proxy batch (default: the space's)")
    batch_size: int = Field(DEFAULT_BATCH, ge=1, le=256, description="candidates evaluated per round")

    @field_validator("space")
    @classmethod
    def _known_space(cls, value: str) -> str:
        if value not in searchspaces.names():
            raise _refuse(f"unknown search space {value!r}; known spaces: {', '.join(searchspaces.names())}")
        return value

    @field_validator("strategy", mode="before")
    @classmethod
    def _known_strategy(cls, value: Any) -> Strategy:
        if not isinstance(value, str) or value not in STRATEGIES:
            raise _refuse(f"unknown strategy {value!r}; choose from {', '.join(STRATEGIES)}")
        return Strategy(value)  # a stored request's word too (strict models take only the enum)

    @field_validator("proxy", "ensemble", "objectives", mode="before")
    @classmethod
    def _current_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [RENAMED.get(v, v) if isinstance(v, str) else v for v in value]
        return RENAMED.get(value, value) if isinstance(value, str) else value

    @field_validator("proxy")
    @classmethod
    def _known_proxy(cls, value: str | None) -> str | None:
        if value is not None:
            _check_proxy(value)
        return value

    @field_validator("ensemble")
    @classmethod
    def _known_proxies(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            _check_proxy(name)
        if value is not None and len(set(value)) != len(value):
            raise _refuse("a proxy is named twice")
        return value

    @field_validator("data")
    @classmethod
    def _data_name(cls, value: str) -> str:
        if value not in BUILT_IN_DATA and not re.fullmatch(DEVICE_NAME_PATTERN, value):
            raise _refuse(f"{value!r} is neither a built-in dataset ({', '.join(BUILT_IN_DATA)}) "
                          "nor an uploaded dataset's name")
        return value

    def to_config(self) -> SearchConfig:
        """The engine's configuration; ``InvalidField`` for a bad combination of fields."""
        if self.proxy and self.ensemble:
            raise InvalidField("ensemble", "give proxy or ensemble, not both")
        proxies = tuple(self.ensemble) if self.ensemble else (self.proxy or DEFAULT_PROXY,)
        proxy = ProxyConfig(
            proxies=proxies, ensemble=bool(self.ensemble), data=self.data, seed=self.seed,
            batch_size=self.proxy_batch or costs.default_batch(self.space, proxies),
        )
        costs.check(self.space, proxy)
        return SearchConfig(
            self.space, strategy=self.strategy.value, budget=self.budget, seed=self.seed, batch_size=self.batch_size,
            constraints=Constraints(latency_ms=self.latency_max_ms, params=self.params_max, macs=self.macs_max),
            objectives=Objectives(extra=tuple(self.objectives)), proxy=proxy,
        )


def _check_proxy(name: str) -> None:
    if name not in nas.proxies.names():
        raise _refuse(f"unknown proxy {name!r}; choose from {', '.join(nas.proxies.names())}")


def parse_request(data: Any) -> SearchRequest:
    """A request from its fields (a stored request, the CLI's flags); ``InvalidField`` naming each bad one."""
    try:
        return SearchRequest.model_validate(data)
    except ValidationError as error:
        raise from_validation(error) from None
