"""The service's settings: one pydantic-settings class, read from ``NAS_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from nas.errors import InvalidField, Problem

MAX_BUDGET = 100_000  # the largest budget a search request may name; NAS_MAX_BUDGET lowers it per service


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NAS_", extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", description="address `nas serve` binds to")
    port: int = Field(8000, ge=1, le=65535, description="port `nas serve` listens on")
    log_level: str = Field("info", pattern="^(critical|error|warning|info|debug)$")
    # The one setting without the NAS_ prefix: DATABASE_URL is what hosting platforms and
    # docker-compose set. Unset means a SQLite file in data_dir (see nas.storage.engine).
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "NAS_DATABASE_URL"),
        description="SQLAlchemy URL of the database; postgresql:// URLs use psycopg 3",
    )
    data_dir: str = Field("./var", min_length=1, description="folder for the SQLite database and other state")
    ray_address: str | None = Field(
        None,
        validation_alias=AliasChoices("RAY_ADDRESS", "NAS_RAY_ADDRESS"),
        description="Ray cluster to join (ray://host:10001 or host:6379); unset: a local Ray on this machine",
    )
    max_concurrent_searches: int = Field(2, ge=1, description="searches running at once; the rest wait, in order")
    default_device: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="the device a search that names none uses; unset: this CPU's shipped device, else this "
        "machine's own, fitted on first use (nas.latency.local)",
    )
    max_budget: int = Field(10_000, ge=1, le=MAX_BUDGET,
                            description="most candidates one search may ask for (its budget)")
    max_queued_searches: int = Field(100, ge=1, description="searches that may wait in the queue; "
                                     "a submission beyond is refused (429) until some have started")
    max_export_params: int = Field(50_000_000, ge=1, description="most parameters a candidate may have to be "
                                   "exported (ONNX or JSON); a larger one is refused (422)")
    export_cache_mb: int = Field(1024, ge=1, description="disk the built exports may take under data_dir/exports; "
                                 "beyond, those served longest ago are removed")
    max_upload_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="largest request body an upload route accepts (profiles, datasets)"
    )


class SettingsError(InvalidField):
    """A setting read from the environment is invalid; each problem names its variable."""

    kind = "setting"


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "?"
            variable = field if field.isupper() else f"NAS_{field.upper()}"
            problems.append(Problem(variable, f"{item['msg']}, got {item.get('input')!r}"))
        raise SettingsError.many(problems, what="setting", where="environment") from None
