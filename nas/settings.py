"""The service's settings: one pydantic-settings class, read from ``NAS_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NAS_", extra="ignore")

    host: str = Field("127.0.0.1", description="address `nas serve` binds to")
    port: int = Field(8000, ge=1, le=65535, description="port `nas serve` listens on")
    log_level: str = Field("info", pattern="^(critical|error|warning|info|debug)$")


class SettingsError(ValueError):
    """A setting read from the environment is invalid; the message names the variable."""


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0]) if item["loc"] else "?"
            problems.append(f"NAS_{field.upper()}={item.get('input')!r}: {item['msg']}")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
