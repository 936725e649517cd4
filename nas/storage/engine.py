"""Which database, how to connect to it, and how to migrate it.

SQLite in ``<data_dir>/nas.db`` unless ``DATABASE_URL`` names another database; PostgreSQL URLs are
pointed at psycopg 3 whatever driver they name (``postgres://`` as Heroku-style hosts write it, or
plain ``postgresql://``). Migrations are Alembic's, shipped in ``migrations/`` inside the package and
configured here in code, so no ``alembic.ini`` is needed.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from nas.settings import Settings, get_settings
from nas.storage.records import StorageError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_FILE = "nas.db"
BACKENDS = ("sqlite", "postgresql")
_POSTGRES_SCHEMES = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://", re.IGNORECASE)
# Arbitrary but fixed: PostgreSQL advisory lock held while migrating, so an API process and a worker
# starting together do not both create the tables.
MIGRATION_LOCK = 7_240_301


class DatabaseURLError(StorageError, ValueError):
    """``DATABASE_URL`` (or the URL passed in) is not one this service can use."""


def resolve_url(url: str | None = None, settings: Settings | None = None) -> URL:
    """The URL to connect to: ``url``, else ``DATABASE_URL``, else SQLite under ``data_dir``."""
    settings = settings or get_settings()
    raw = url if url is not None else settings.database_url
    if raw is None or not raw.strip():
        folder = Path(settings.data_dir).expanduser().resolve()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"NAS_DATA_DIR={settings.data_dir!r}: cannot create it: {error.strerror}") from None
        return URL.create("sqlite", database=str(folder / SQLITE_FILE))
    raw = _POSTGRES_SCHEMES.sub("postgresql+psycopg://", raw.strip(), count=1)
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise DatabaseURLError(
            f"DATABASE_URL={_mask(raw)!r} is not a database URL; expected e.g. "
            "postgresql://user:password@host:5432/name or sqlite:///path/to/nas.db"
        ) from None
    if parsed.get_backend_name() not in BACKENDS:
        raise DatabaseURLError(
            f"DATABASE_URL={_mask(raw)!r}: unsupported database {parsed.get_backend_name()!r}; "
            f"use one of {', '.join(BACKENDS)}"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return parsed


def describe(url: URL) -> str:
    """The URL with its password hidden, for logs and /health."""
    return url.render_as_string(hide_password=True)


def _mask(raw: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", raw)


def make_engine(url: URL) -> Engine:
    # allow_nan=False: a NaN that got past the checks fails loudly instead of writing invalid JSON.
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "json_serializer": functools.partial(json.dumps, allow_nan=False),
    }
    if url.get_backend_name() == "sqlite":
        # The API serves requests from a thread pool; each session still uses one connection at a time.
        options["connect_args"] = {"check_same_thread": False}
    engine = create_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite, and per connection
    cursor.execute("PRAGMA busy_timeout=10000")  # wait for another writer rather than fail at once
    cursor.close()


def alembic_config(url: URL | None = None) -> Config:
    """An Alembic ``Config`` built in code: the shipped migrations, and ``url`` if given.

    ``Store.upgrade`` also hands its open connection over in ``config.attributes["connection"]``,
    which ``migrations/env.py`` prefers to the URL.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        # configparser interpolates '%', which URL-encoded passwords contain.
        config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))
    return config
