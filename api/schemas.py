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
    published: dict[str, str] = Field(description="published networks written in the space")


class SpaceDetail(SpaceSummary):
    choices: dict[str, Any] = Field(description="the choices of the space and an example arch string")


class ProxyInfo(BaseModel):
    name: str = Field(examples=["synflow"])
    description: str
    needs_labels: bool = Field(description="needs class labels with the data batch")
    needs_data: bool = Field(description="reads the data batch (False: data-free or Gaussian input)")
    shared_pass: list[str] = Field(description="captures of the engine's shared pass it reads")
