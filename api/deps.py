"""What routes depend on, made once when the app starts; a route names each by type:
``store: StoreDep`` (the database), ``exports: ExportsDep`` (built exports, ``nas.export_cache``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from nas.export_cache import ExportCache
from nas.storage import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


def get_exports(request: Request) -> ExportCache:
    return request.app.state.exports


ExportsDep = Annotated[ExportCache, Depends(get_exports)]
