from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

import searchspaces
from api import errors
from api.auth import READ
from api.schemas import SpaceDetail, SpaceSummary

router = APIRouter(tags=["spaces"])


@lru_cache
def _describe(name: str) -> dict:
    # Spaces are immutable once registered, so their descriptions are computed once.
    return searchspaces.get(name).describe()


@router.get("/spaces", response_model=list[SpaceSummary], operation_id="listSpaces", dependencies=[READ])
def list_spaces() -> list[dict]:
    """The search spaces, their sizes and resolutions."""
    return [_describe(name) for name in searchspaces.names()]


SpaceName = Annotated[str, Path(description="the space's name (GET /spaces)", examples=["mobilenetv3"])]


@router.get("/spaces/{space}", response_model=SpaceDetail, operation_id="getSpace",
            responses={404: errors.error("no search space of that name")}, dependencies=[READ])
def get_space(space: SpaceName) -> dict:
    """One search space with its choices and an example architecture string."""
    if space not in searchspaces.names():
        raise HTTPException(
            status_code=404,
            detail=f"space: unknown search space {space!r}; known spaces: "
            + ", ".join(searchspaces.names()),
        )
    return _describe(space)
