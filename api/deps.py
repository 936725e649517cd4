"""What routes depend on: the store, made once when the app starts; a route names it by type,
``store: StoreDep``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from nas.storage import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]
