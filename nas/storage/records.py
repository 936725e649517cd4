"""What callers of ``nas.storage`` get back: frozen dataclasses and the errors, never ORM rows.

A record is a snapshot taken inside the transaction that read it, so it can be passed to other
threads, serialised by the API or sent to a worker without a session behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SEARCH_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class StorageError(Exception):
    """Something the database layer refused; the message says what and why."""


class AlreadyExists(StorageError):
    """A unique value is taken; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")  # the API's 409 detail
        self.field, self.reason = field, reason


class NotFound(StorageError, LookupError):
    """A device, profile, search or candidate that is not there; the message names it."""


class InvalidTransition(StorageError, ValueError):
    """A search status change that its life cycle does not allow (a final status is final)."""


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    id: int
    name: str
    hardware: str
    description: str
    shipped: bool
    created_at: datetime
    owner: str | None = None  # the name of the key that registered it; None: shipped, or made with auth off


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    id: int
    device: str
    search_space: str
    version: int
    runtime: str
    resolutions: list[int]
    num_keys: int
    validation: dict[str, Any] | None  # {n, mape, within_10pct}
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SearchRecord:
    id: int
    request: dict[str, Any]
    space: str
    device: str
    profile_id: int | None
    strategy: str
    budget: int
    seed: int | None
    status: str
    evaluated: int
    hypervolume: float | None
    history: list[list[float]]  # [evaluated, hypervolume] pairs
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class SearchSummary:
    """What a listing of searches shows of each one's results without reading its candidates."""

    search_id: int
    front_size: int
    best_score: float | None  # the highest score on the front; None while the front is empty


@dataclass(frozen=True, slots=True)
class CandidatePoint:
    """What a plot needs of a candidate: no proxy scores beyond the combined one."""

    id: int
    arch: str
    score: float
    latency_ms: float
    params: int
    macs: int
    feasible: bool
    is_pareto: bool


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    id: int
    search_id: int
    arch: str
    arch_hash: str
    scores: dict[str, float]
    score: float
    latency_ms: float
    params: int
    macs: int
    feasible: bool
    is_pareto: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    id: int
    name: str
    description: str
    num_images: int
    height: int
    width: int
    num_classes: int
    dtype: str
    sha256: str
    size_bytes: int
    created_at: datetime
    channel_mean: tuple[float, ...] | None = None  # a uint8 set's, computed at upload (nas.datasets.calibration)
    channel_std: tuple[float, ...] | None = None
    owner: str | None = None


ROLES = ("viewer", "member", "admin")  # each may do what the one before may, and more


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An API key as stored: never its text, which is shown once, at creation."""

    id: int
    name: str
    role: str
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def finite(value: Any, field: str) -> float:
    """``value`` as a float; ``ValueError`` naming ``field`` if it is not a finite number.

    JSON has no NaN or infinity (PostgreSQL's json type rejects them, SQLite would store null), so
    they are refused here rather than turned into something else on the way in.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field}: must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{field}: must be a finite number, got {value!r}")
    return float(value)


def finite_scores(scores: Any, field: str) -> dict[str, float]:
    if not isinstance(scores, dict):
        raise ValueError(f"{field}: must be a mapping of proxy name to number, got {type(scores).__name__}")
    return {str(name): finite(value, f"{field}.{name}") for name, value in scores.items()}


def check_status(status: str, field: str = "status") -> str:
    if status not in SEARCH_STATUSES:
        raise ValueError(f"{field}: unknown status {status!r}; one of {', '.join(SEARCH_STATUSES)}")
    return status
