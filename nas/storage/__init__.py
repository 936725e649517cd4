"""The database layer: SQLAlchemy 2.0 models, Alembic migrations, and ``Store``, the one class that
talks to the database, through one repository per concern (``store.devices``, ``store.profiles``,
``store.datasets``, ``store.searches``, ``store.candidates``, ``store.caches``, ``store.keys``). Callers get frozen
records (``DeviceRecord``, ``SearchRecord``...), never ORM objects or sessions.

``open_store(url=None)`` connects to ``url``, else ``DATABASE_URL``, else SQLite in ``./var/nas.db``,
and migrates the schema to the newest revision.
"""

from nas.storage.devices import ShippedDevice
from nas.storage.engine import DatabaseURLError, resolve_url
from nas.storage.records import (
    ROLES,
    SEARCH_STATUSES,
    AlreadyExists,
    CandidatePoint,
    CandidateRecord,
    DatasetRecord,
    DeviceRecord,
    InvalidTransition,
    KeyRecord,
    NotFound,
    ProfileRecord,
    SearchRecord,
    SearchSummary,
    StorageError,
)
from nas.storage.repository import SORTS, Store, open_store

__all__ = [
    "AlreadyExists",
    "CandidatePoint",
    "CandidateRecord",
    "DatasetRecord",
    "DatabaseURLError",
    "DeviceRecord",
    "InvalidTransition",
    "KeyRecord",
    "NotFound",
    "ProfileRecord",
    "ROLES",
    "SEARCH_STATUSES",
    "SORTS",
    "SearchRecord",
    "SearchSummary",
    "ShippedDevice",
    "StorageError",
    "Store",
    "open_store",
    "resolve_url",
]
