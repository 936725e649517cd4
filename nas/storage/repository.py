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

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from nas.storage.caches import CacheRepository
from nas.storage.candidates import SORTS, CandidateRepository
from nas.storage.datasets import DatasetRepository
from nas.storage.devices import DeviceRepository, ProfileRepository
from nas.storage.engine import (
    MIGRATION_LOCK,
    alembic_config,
    describe,
    make_engine,
    resolve_url,
)
from nas.storage.keys import KeyRepository
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
        self.keys = KeyRepository(self._sessions)

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


def open_store(url: str | None = None) -> Store:
    """A ``Store`` on ``url`` (default: ``DATABASE_URL``, else SQLite in ``./var``), migrated to head."""
    store = Store(url)
    try:
        store.upgrade()
    except Exception:
        store.close()
        raise
    return store
