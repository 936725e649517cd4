"""``Store``: the one layer that talks to the database.

A ``Store`` owns the engine, the schema (Alembic migrations) and one session factory that its
repositories share, one per concern: ``devices`` and ``profiles`` (``devices.py``), ``datasets``,
``searches``, ``candidates`` and ``caches``. Every repository method opens its own transaction
(``with sessions.begin()``) and returns frozen records from ``records.py``; ORM objects and sessions
never leave ``nas.storage``. Inserts that may repeat (cached results, a candidate seen twice) use the
backend's ``ON CONFLICT DO NOTHING``, which SQLite and PostgreSQL both have, so a duplicate is skipped
rather than raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

import nas.latency as latency
from nas.storage.caches import CacheRepository
from nas.storage.candidates import SORTS, CandidateRepository
from nas.storage.datasets import DatasetRepository
from nas.storage.devices import DeviceRepository, ProfileRepository
from nas.storage.engine import MIGRATION_LOCK, alembic_config, describe, make_engine, resolve_url
from nas.storage.records import (
    CandidatePoint,
    CandidateRecord,
    DatasetRecord,
    DeviceRecord,
    ProfileRecord,
    SearchRecord,
)
from nas.storage.searches import SearchRepository

__all__ = ["SORTS", "Store", "open_store"]


class Store:
    """The service's database. ``open_store()`` makes one and migrates it; ``close()`` lets it go."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        self._engine = make_engine(self.url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self.devices = DeviceRepository(self._sessions)
        self.profiles = ProfileRepository(self._sessions)
        self.datasets = DatasetRepository(self._sessions)
        self.searches = SearchRepository(self._sessions)
        self.candidates = CandidateRepository(self._sessions)
        self.caches = CacheRepository(self._sessions)

    def __repr__(self) -> str:
        return f"Store({describe(self.url)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    # --- schema -----------------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Apply every migration not yet applied (none: nothing happens)."""
        config = alembic_config(self.url)
        with self._engine.begin() as connection:
            if self.backend == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        """The database's current Alembic revision (None before the first migration)."""
        with self._engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    # --- kept until callers move to the repositories (store.devices.add(...) and so on) -----------

    def add_device(self, name: str, hardware: str = "", description: str = "", shipped: bool = False) -> DeviceRecord:
        return self.devices.add(name, hardware, description, shipped)

    def get_device(self, name: str) -> DeviceRecord:
        return self.devices.get(name)

    def list_devices(self) -> list[DeviceRecord]:
        return self.devices.list()

    def ensure_shipped_devices(self) -> list[ProfileRecord]:
        return self.devices.ensure_shipped()

    def add_profile(self, device_name: str, profile: latency.Profile) -> ProfileRecord:
        return self.profiles.add(device_name, profile)

    def list_profiles(self, device_name: str, space: str | None = None) -> list[ProfileRecord]:
        return self.profiles.list(device_name, space)

    def get_profile(self, device_name: str, space: str, version: int | None = None) -> ProfileRecord:
        return self.profiles.get(device_name, space, version)

    def load_profile(self, profile_id: int) -> latency.Profile:
        return self.profiles.load(profile_id)

    def add_dataset(self, name: str, content: bytes, info: dict[str, Any], description: str = "") -> DatasetRecord:
        return self.datasets.add(name, content, info, description)

    def get_dataset(self, name: str) -> DatasetRecord:
        return self.datasets.get(name)

    def list_datasets(self) -> list[DatasetRecord]:
        return self.datasets.list()

    def dataset_content(self, name: str) -> bytes:
        return self.datasets.content(name)

    def create_search(self, request: dict[str, Any], **options: Any) -> SearchRecord:
        return self.searches.create(request, **options)

    def attach_profile(self, search_id: int, profile_id: int) -> SearchRecord:
        return self.searches.attach_profile(search_id, profile_id)

    def get_search(self, search_id: int) -> SearchRecord:
        return self.searches.get(search_id)

    def list_searches(self, status: str | None = None, space: str | None = None, limit: int = 100,
                      offset: int = 0) -> list[SearchRecord]:
        return self.searches.list(status, space, limit, offset)

    def update_search(self, search_id: int, **changes: Any) -> SearchRecord:
        return self.searches.update(search_id, **changes)

    def add_candidates(self, search_id: int, rows: Sequence[dict[str, Any]]) -> int:
        return self.candidates.add(search_id, rows)

    def set_pareto(self, search_id: int, arch_hashes: Iterable[str]) -> None:
        return self.candidates.set_pareto(search_id, arch_hashes)

    def list_candidates(self, search_id: int, **options: Any) -> list[CandidateRecord]:
        return self.candidates.list(search_id, **options)

    def count_candidates(self, search_id: int, pareto_only: bool = False) -> int:
        return self.candidates.count(search_id, pareto_only)

    def plot_points(self, search_id: int, sample: int) -> tuple[list[CandidatePoint], list[CandidatePoint], int]:
        return self.candidates.plot_points(search_id, sample)

    def get_candidate(self, candidate_id: int) -> CandidateRecord:
        return self.candidates.get(candidate_id)

    def cached_scores(self, space: str, proxy_key: str, arch_hashes: Iterable[str]) -> dict[str, dict[str, float]]:
        return self.caches.scores(space, proxy_key, arch_hashes)

    def put_scores(self, space: str, proxy_key: str, scores: dict[str, dict[str, float]]) -> None:
        return self.caches.put_scores(space, proxy_key, scores)

    def cached_latencies(self, profile_id: int, arch_hashes: Iterable[str]) -> dict[str, float]:
        return self.caches.latencies(profile_id, arch_hashes)

    def put_latencies(self, profile_id: int, latencies: dict[str, float]) -> None:
        return self.caches.put_latencies(profile_id, latencies)


def open_store(url: str | None = None) -> Store:
    """A ``Store`` on ``url`` (default: ``DATABASE_URL``, else SQLite in ``./var``), migrated to head."""
    store = Store(url)
    try:
        store.upgrade()
    except Exception:
        store.close()
        raise
    return store
