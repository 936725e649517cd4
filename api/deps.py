"""What routes depend on: the settings and the store, both made once when the app starts."""

from __future__ import annotations

from fastapi import Request

from nas.settings import Settings
from nas.storage import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings
