"""The device registry: devices, and the latency profiles measured on them (``nas profile``).

A profile is uploaded as its JSON document, the request body itself (never pickle), up to
``NAS_MAX_UPLOAD_BYTES``. It gets the checks of ``nas.latency.validate_profile``; a refusal lists
every problem by field, and nothing is stored. An admitted profile becomes the device's next version
for its search space.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

import searchspaces
from api import errors
from api.deps import get_store
from api.schemas import DeviceCreate, DeviceOut, ProfileSummary
from nas.latency import DEFAULT_DEVICE, Profile, ProfileError, read_shipped, validate_profile
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.storage import AlreadyExists, NotFound, ProfileRecord, Store

router = APIRouter(tags=["devices"])

# A name the registry could not hold is refused here (422, naming it) rather than looked up.
DeviceName = Annotated[str, Path(pattern=DEVICE_NAME_PATTERN, description="the device's name (GET /devices)",
                                 examples=[DEFAULT_DEVICE])]
UNKNOWN_DEVICE = {404: errors.error("no device of that name")}


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    # The OpenAPI document resolves "#/$defs/..." against its own root, so the profile's sub-models
    # are written in place (the profile schema has no recursion).
    if isinstance(schema, list):
        return [_inline_refs(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return {**_inline_refs(defs[schema["$ref"].rsplit("/", 1)[-1]], defs), **siblings}
    return {key: _inline_refs(value, defs) for key, value in schema.items()}


def _profile_body() -> dict:
    schema = Profile.model_json_schema()
    schema = _inline_refs(schema, schema.pop("$defs", {}))
    # A real document, kept short: the shipped NAS-Bench-201 table (22 entries), two networks of each fit.
    example = json.loads(read_shipped(DEFAULT_DEVICE, "nasbench201").to_json())
    for part in ("calibration", "validation"):
        example[part]["networks"] = example[part]["networks"][:2]
    schema["description"] = (
        "A latency profile document (schema_version 3; 1 and 2 are still read), as `nas profile --space SPACE --device-name NAME "
        "--out FILE.json` writes it on the device; `device.name` must be the device in the path. Fields: "
        "latency_tables/README.md. The example is the shipped NAS-Bench-201 profile of "
        f"{DEFAULT_DEVICE} (latency_tables/), its network lists shortened."
    )
    return {"required": True, "content": {"application/json": {"schema": schema, "example": example}}}


@lru_cache(maxsize=256)
def _required_keys(space: str, resolutions: tuple[int, ...], num_classes: int | None) -> int:
    return len(searchspaces.get(space).all_blocks(resolutions, num_classes))


def _profile_out(record: ProfileRecord, num_classes: int | None = None) -> dict:
    required = _required_keys(record.search_space, tuple(record.resolutions), num_classes)
    return {
        "id": record.id, "device": record.device, "search_space": record.search_space, "version": record.version,
        "runtime": record.runtime, "resolutions": record.resolutions, "block_keys": record.num_keys,
        "required_keys": required, "coverage": min(1.0, record.num_keys / required) if required else 1.0,
        "validation": record.validation, "created_at": record.created_at.isoformat(),
    }


def _device_out(store: Store, name: str) -> dict:
    device = store.get_device(name)
    return {
        "name": device.name, "hardware": device.hardware, "description": device.description,
        "shipped": device.shipped, "created_at": device.created_at.isoformat(),
        "profiles": [_profile_out(p, _num_classes(store, p)) for p in store.list_profiles(name)],
    }


# Profiles never change once stored, so each one's class count (which the head's keys depend on) is
# read from its document once per process.
_CLASSES: dict[tuple[str, int], int] = {}


def _num_classes(store: Store, record: ProfileRecord) -> int:
    key = (str(store.url), record.id)
    if key not in _CLASSES:
        _CLASSES[key] = store.load_profile(record.id).num_classes
    return _CLASSES[key]


def _not_found(error: NotFound) -> HTTPException:
    return HTTPException(status_code=404, detail=f"name: {error}")


@router.post("/devices", response_model=DeviceOut, status_code=201,
             responses={409: errors.error("a device of that name exists")})
def create_device(body: DeviceCreate, store: Store = Depends(get_store)) -> dict:
    """Register a device; its profiles are uploaded next."""
    for field in ("hardware", "description"):
        if "\x00" in getattr(body, field):  # PostgreSQL text cannot hold NUL
            raise errors.invalid(["body", field], f"{field}: must not contain NUL characters")
    try:
        store.add_device(body.name, hardware=body.hardware, description=body.description)
    except AlreadyExists as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    except ValueError as error:
        raise errors.invalid(["body", str(error).partition(":")[0]], str(error)) from None
    return _device_out(store, body.name)


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(store: Store = Depends(get_store)) -> list[dict]:
    """Every device, shipped and registered, with its profiles."""
    return [_device_out(store, d.name) for d in store.list_devices()]


@router.get("/devices/{name}", response_model=DeviceOut, responses=UNKNOWN_DEVICE)
def get_device(name: DeviceName, store: Store = Depends(get_store)) -> dict:
    try:
        return _device_out(store, name)
    except NotFound as error:
        raise _not_found(error) from None


@router.get("/devices/{name}/profiles", response_model=list[ProfileSummary], responses=UNKNOWN_DEVICE)
def list_profiles(
    name: DeviceName,
    space: str | None = Query(None, description="only this search space's profiles (GET /spaces)"),
    store: Store = Depends(get_store),
) -> list[dict]:
    """The device's profiles, oldest version first, with coverage and validation figures."""
    if space is not None and space not in searchspaces.names():
        known = ", ".join(searchspaces.names())
        raise errors.invalid(["query", "space"], f"space: unknown search space {space!r}; known spaces: {known}")
    try:
        return [_profile_out(p, _num_classes(store, p)) for p in store.list_profiles(name, space)]
    except NotFound as error:
        raise _not_found(error) from None


@router.post(
    "/devices/{name}/profiles", response_model=ProfileSummary, status_code=201,
    responses={**UNKNOWN_DEVICE, 413: errors.error("the body is over NAS_MAX_UPLOAD_BYTES")},
    openapi_extra={"requestBody": _profile_body()},
)
async def upload_profile(name: DeviceName, request: Request, store: Store = Depends(get_store)) -> dict:
    """Upload a profile measured with ``nas profile`` on this device (JSON, size-limited)."""
    # api.limits.BodySizeLimit has refused a body over NAS_MAX_UPLOAD_BYTES before this reads it.
    body = await request.body()
    return await run_in_threadpool(_admit_profile, store, name, body)


def _admit_profile(store: Store, name: str, body: bytes) -> dict:
    try:
        store.get_device(name)
    except NotFound as error:
        raise _not_found(error) from None
    try:
        profile = validate_profile(body, source="uploaded profile")
    except ProfileError as error:
        raise HTTPException(status_code=422, detail=[
            {"loc": ["body", *_field_of(problem)], "msg": problem, "type": "profile"} for problem in error.problems
        ]) from None
    if profile.device.name != name:
        raise errors.invalid(["body", "device", "name"], kind="profile", message=(
            f"device.name: the profile was measured as {profile.device.name!r}, uploaded to {name!r}"))
    return _profile_out(store.add_profile(name, profile), profile.num_classes)


def _field_of(problem: str) -> list[str]:
    head, sep, _ = problem.partition(": ")
    return [part for part in head.split(".") if part] if sep and " " not in head else []

