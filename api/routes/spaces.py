from functools import lru_cache

from fastapi import APIRouter, HTTPException

import searchspaces
from api.schemas import SpaceDetail, SpaceSummary

router = APIRouter(tags=["spaces"])


@lru_cache
def _describe(name: str) -> dict:
    # Spaces are immutable once registered, so their descriptions are computed once.
    return searchspaces.get(name).describe()


@router.get("/spaces", response_model=list[SpaceSummary])
def list_spaces() -> list[dict]:
    """The search spaces, their sizes and resolutions."""
    return [_describe(name) for name in searchspaces.names()]


@router.get("/spaces/{space}", response_model=SpaceDetail)
def get_space(space: str) -> dict:
    """One search space with its choices and an example architecture string."""
    if space not in searchspaces.names():
        raise HTTPException(
            status_code=404,
            detail=f"space: unknown search space {space!r}; known spaces: "
            + ", ".join(searchspaces.names()),
        )
    return _describe(space)
