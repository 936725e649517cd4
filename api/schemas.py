"""Pydantic response and request models of the REST API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    version: str


class SpaceSummary(BaseModel):
    name: str = Field(examples=["mobilenetv3"])
    title: str
    reference: str
    size: int = Field(description="number of distinct candidates")
    resolutions: list[int]
    default_num_classes: int
    num_block_keys: int = Field(description="latency-table entries the space needs, all resolutions")


class SpaceDetail(SpaceSummary):
    choices: dict[str, Any] = Field(description="the choices of the space and an example arch string")
