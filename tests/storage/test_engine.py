"""Which database a URL (or its absence) means; no database is opened here."""

from __future__ import annotations

import pytest

from nas.settings import Settings
from nas.storage import DatabaseURLError, resolve_url


def test_default_is_a_sqlite_file_in_the_data_dir(tmp_path):
    folder = tmp_path / "state" / "var"
    url = resolve_url(None, Settings(data_dir=str(folder), database_url=None))
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(folder / "nas.db")
    assert folder.is_dir()  # created, so SQLite can make the file


@pytest.mark.parametrize("raw", [
    "postgresql://u:p@db:5432/nas",
    "postgres://u:p@db:5432/nas",
    "postgresql+psycopg2://u:p@db:5432/nas",
])
def test_postgres_urls_use_psycopg3(raw):
    url = resolve_url(raw, Settings())
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == ("db", 5432, "nas", "u")


def test_database_url_is_read_without_the_nas_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/nas")
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.database_url == "postgres://u@db/nas"
    assert settings.data_dir == str(tmp_path)
    assert resolve_url(None, settings).drivername == "postgresql+psycopg"


@pytest.mark.parametrize("raw, reason", [
    ("not a url", "is not a database URL"),
    ("mysql://u:secret@db/nas", "unsupported database 'mysql'"),
])
def test_a_bad_url_names_database_url_and_hides_the_password(raw, reason):
    with pytest.raises(DatabaseURLError, match="DATABASE_URL") as caught:
        resolve_url(raw, Settings())
    assert reason in str(caught.value)
    assert "secret" not in str(caught.value)
