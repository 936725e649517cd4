"""Error responses as the OpenAPI document shows them, so clients see every status a route can answer.

``HTTPException(status, detail="field: reason")`` gives ``{"detail": "field: reason"}``; a refused
body gives FastAPI's 422 shape, ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``, which
FastAPI documents itself. Routes list their other statuses with
``responses={404: error("...")}``.
"""

from __future__ import annotations

from fastapi import HTTPException
from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="the field at fault, a colon, then the reason",
                        examples=["name: no device named 'pixel7-cpu'"])


def error(description: str) -> dict:
    """A ``responses=`` entry for an error status answered with ``{"detail": "field: reason"}``."""
    return {"model": ErrorOut, "description": description}


def invalid(loc: list[str | int], message: str, kind: str = "value_error") -> HTTPException:
    """A 422 in FastAPI's own shape, so one schema describes every refusal of a request."""
    return HTTPException(status_code=422, detail=[{"loc": loc, "msg": message, "type": kind}])
