"""The service's settings: one pydantic-settings class, read from ``NAS_*`` environment variables."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nas.errors import InvalidField, Problem

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MIN_KEY_CHARS = 32  # a bootstrap key shorter than this is too easy to guess
MAX_KEY_CHARS = 256  # longer is no key of ours: not hashed, not looked up
KEY_PREFIX = "nas_"  # every key starts so; a Bearer value that does not is refused unread
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
    auth: Literal["off", "required"] | None = Field(
        None, description="off: every request may do everything; required: each needs an API key "
        "(Authorization: Bearer). Unset: off when the service binds to loopback, required otherwise")
    admin_key: SecretStr | None = Field(
        None, min_length=MIN_KEY_CHARS, description="a bootstrap admin key (the key named `admin`), "
        "registered at start: how a deployment gets its first key")
    allowed_hosts: str | None = Field(
        None, description="comma-separated Host names the service answers (`*`: any). Unset: the loopback "
        "names, and the address it binds to when that is one address (not 0.0.0.0 or ::)")

    @field_validator("admin_key")
    @classmethod
    def _admin_key_is_ours(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and (not key.get_secret_value().startswith(KEY_PREFIX)
                                or len(key.get_secret_value()) > MAX_KEY_CHARS):
            raise ValueError(f"must start with {KEY_PREFIX!r} and have at most {MAX_KEY_CHARS} characters, as "
                             "every key does (make one: python3 -c \"import secrets; print('nas_' + "
                             "secrets.token_urlsafe(32))\")")
        return key

    def on_loopback(self) -> bool:
        return is_loopback(self.host)

    def auth_mode(self) -> Literal["off", "required"]:
        """The auth mode in force: NAS_AUTH, else off on loopback and required beyond."""
        return self.auth or ("off" if self.on_loopback() else "required")

    def host_names(self) -> tuple[str, ...]:
        """The Host header names served; ("*",) for any."""
        if self.allowed_hosts is not None:
            return tuple(name.strip().lower() for name in self.allowed_hosts.split(",") if name.strip())
        bound = self.host.strip("[]").lower()
        wildcard = bound in ("0.0.0.0", "::", "")
        return LOOPBACK_NAMES if wildcard or bound in LOOPBACK_NAMES else (*LOOPBACK_NAMES, bound)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
