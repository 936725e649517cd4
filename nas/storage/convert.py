"""Rows to records, caller input to checked rows, and the insert that skips duplicates.

A name, a text, a page or a JSON value a caller passes is refused with ``nas.errors.InvalidField`` at
its field; a malformed candidate or history row (a worker's, never a user's) with ``ValueError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nas.errors import InvalidField
from nas.storage.models import (
    HASH,
    ApiKey,
    Candidate,
    Dataset,
    Device,
    LatencyProfile,
    Search,
)
from nas.storage.records import (
    CandidateRecord,
    DatasetRecord,
    DeviceRecord,
    KeyRecord,
    ProfileRecord,
    SearchRecord,
    StorageError,
    finite,
    finite_scores,
)

MAX_LISTED = 10
MAX_PAGE = 10_000
MAX_OFFSET = 2**31 - 1  # fits every backend's integer
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def device(row: Device) -> DeviceRecord:
    return DeviceRecord(id=row.id, name=row.name, hardware=row.hardware, description=row.description,
                        shipped=row.shipped, created_at=row.created_at, owner=row.owner)


def profile(row: LatencyProfile) -> ProfileRecord:
    validation = None
    if row.validation_n is not None:
        validation = {"n": row.validation_n, "mape": row.validation_mape,
                      "within_10pct": row.validation_within_10pct}
    return ProfileRecord(id=row.id, device=row.device.name, search_space=row.search_space, version=row.version,
                         runtime=row.runtime, resolutions=list(row.resolutions), num_keys=row.num_keys,
                         validation=validation, created_at=row.created_at)


def search(row: Search) -> SearchRecord:
    return SearchRecord(
        id=row.id, request=row.request, space=row.space, device=row.device.name, profile_id=row.profile_id,
        strategy=row.strategy, budget=row.budget, seed=row.seed, status=row.status, evaluated=row.evaluated,
        hypervolume=row.hypervolume, history=[list(pair) for pair in row.history], error=row.error,
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at, owner=row.owner,
    )


def dataset(row: Dataset) -> DatasetRecord:
    return DatasetRecord(id=row.id, name=row.name, description=row.description, num_images=row.num_images,
                         height=row.height, width=row.width, num_classes=row.num_classes, dtype=row.dtype,
                         sha256=row.sha256, size_bytes=row.size_bytes, created_at=row.created_at,
                         channel_mean=_floats(row.channel_mean), channel_std=_floats(row.channel_std),
                         owner=row.owner)


def key(row: ApiKey) -> KeyRecord:
    return KeyRecord(id=row.id, name=row.name, role=row.role, created_by=row.created_by, created_at=row.created_at,
                     last_used_at=row.last_used_at, revoked_at=row.revoked_at)


def _floats(values: list | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


def candidate(row: Candidate) -> CandidateRecord:
    return CandidateRecord(
        id=row.id, search_id=row.search_id, arch=row.arch, arch_hash=row.arch_hash, scores=dict(row.scores),
        score=row.score, latency_ms=row.latency_ms, params=row.params, macs=row.macs, feasible=row.feasible,
        is_pareto=row.is_pareto, created_at=row.created_at,
    )


def candidate_row(row: Any, where: str) -> dict[str, Any]:
    """One caller's candidate dict, checked field by field; errors name ``where.field``."""
    if not isinstance(row, dict):
        raise ValueError(f"{where}: must be a mapping, got {type(row).__name__}")
    missing = [f for f in ("arch", "arch_hash", "scores", "score", "latency_ms", "params", "macs", "feasible")
               if f not in row]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    check_text(row["arch"], f"{where}.arch", 100_000)
    check_text(row["arch_hash"], f"{where}.arch_hash", HASH)
    for field in ("params", "macs"):
        if isinstance(row[field], bool) or not isinstance(row[field], int) or row[field] < 0:
            raise ValueError(f"{where}.{field}: must be a non-negative integer, got {row[field]!r}")
    if not isinstance(row["feasible"], bool):
        raise ValueError(f"{where}.feasible: must be true or false, got {row['feasible']!r}")
    return {
        "arch": row["arch"], "arch_hash": row["arch_hash"],
        "scores": finite_scores(row["scores"], f"{where}.scores"),
        "score": finite(row["score"], f"{where}.score"),
        "latency_ms": finite(row["latency_ms"], f"{where}.latency_ms"),
        "params": row["params"], "macs": row["macs"], "feasible": row["feasible"],
    }


def history(pairs: Sequence[Sequence[float]]) -> list[list[float]]:
    checked = []
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"history[{i}]: must be an [evaluated, hypervolume] pair, got {pair!r}")
        checked.append([finite(pair[0], f"history[{i}][0]"), finite(pair[1], f"history[{i}][1]")])
    return checked


def check_json(value: Any, field: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidField(field, f"cannot be stored as JSON ({error})") from None


def check_name(name: Any, field: str, pattern: str) -> None:
    if not isinstance(name, str) or re.fullmatch(pattern, name) is None:
        raise InvalidField(field, f"{name!r} is not a valid name (letters, digits, '_', '.', '-'; "
                                  "at most 64, starting with a letter or digit)")


def check_text(value: Any, field: str, longest: int) -> str:
    """A non-empty string that fits its column (PostgreSQL refuses longer ones, SQLite would not)."""
    if not isinstance(value, str) or not value or len(value) > longest:
        raise InvalidField(field, f"must be a non-empty string of at most {longest} characters, got {value!r:.80}")
    return value


def check_page(limit: int, offset: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidField("limit", f"must be an integer from 1 to {MAX_PAGE}, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidField("offset", f"must be an integer from 0 to {MAX_OFFSET}, got {offset!r}")


def nameable(value: str) -> bool:
    """Whether ``value`` can name a row at all: PostgreSQL text holds no NUL, so a name with one is
    simply not there (never a database error)."""
    return isinstance(value, str) and "\x00" not in value


def insert_ignoring(session: Session, model: type, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert ``rows``, skipping any whose ``keys`` already exist (another search, another worker)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = _INSERTS.get(dialect)
    if insert is None:
        raise StorageError(f"unsupported database {dialect!r}")
    for chunk in chunks(rows, 500):
        session.execute(insert(model).on_conflict_do_nothing(index_elements=keys), chunk)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def listing(items: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in items[:MAX_LISTED])
    return shown + (f" ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")
