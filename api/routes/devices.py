"""The device registry: devices, and the latency profiles measured on them (``nas profile``) or fitted
from whole networks timed end to end on them (``POST /devices/{name}/measurements``).

A profile is uploaded as its JSON document, the request body itself (never pickle), up to
``NAS_MAX_UPLOAD_BYTES``. It gets the checks of ``nas.latency.validate_profile``; a refusal lists
every problem by field, and nothing is stored. An admitted profile becomes the device's next version
for its search space. Measurements come as JSON or as a CSV of ``arch,ms`` rows; a refusal names each
bad row, and nothing is stored (not even the device). Every refusal of input is an ``InvalidField``
(``ProfileError``, ``MeasurementError``), which ``api.errors`` answers as a 422 at its fields.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

import searchspaces
from api import errors
from api.auth import READ, Caller, Member
from api.deps import StoreDep
from api.schemas import (
    DeviceCreate,
    DeviceFields,
    DeviceOut,
    FitQuery,
    FittedProfileOut,
    MeasurementsIn,
    ProfileSummary,
)
from nas.errors import InvalidField, Problem, known_space
from nas.latency import (
    DEFAULT_DEVICE,
    Profile,
    ProfileError,
    fit_profile,
    read_shipped,
    validate_profile,
)
from nas.latency.local import is_local
from nas.latency.measurements import read_csv
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.storage import AlreadyExists, NotFound, ProfileRecord, ShippedDevice, Store
from nas.storage.here import add_fitted, fittable

router = APIRouter(tags=["devices"])

# A name the registry could not hold is refused here (422, naming it) rather than looked up.
DeviceName = Annotated[str, Path(pattern=DEVICE_NAME_PATTERN, description="the device's name (GET /devices)",
                                 examples=[DEFAULT_DEVICE])]
UNKNOWN_DEVICE = {404: errors.error("no device of that name")}
REF = "#/components/schemas/"


# The bodies routes read raw (checked by hand, not by FastAPI), as named schemas that api.main adds to
# the document's components: a generated client names its classes after them.
BODY_SCHEMAS: dict[str, dict[str, Any]] = {}


def _component(model: type[BaseModel], prefix: str = "") -> tuple[str, dict[str, Any]]:
    """``model``'s schema and its sub-models' (named ``prefix`` + their own name) into BODY_SCHEMAS;
    its name and its schema (the one stored, to describe it further)."""
    schema = model.model_json_schema(ref_template=f"{REF}{prefix}{{model}}")
    for name, sub in schema.pop("$defs", {}).items():
        BODY_SCHEMAS[prefix + name] = sub
    BODY_SCHEMAS[model.__name__] = schema
    return model.__name__, schema


def _profile_body() -> dict:
    name, schema = _component(Profile, prefix="Profile")
    # A real document, kept short: the shipped NAS-Bench-201 table (22 entries), two networks of each fit.
    example = json.loads(read_shipped(DEFAULT_DEVICE, "nasbench201").to_json())
    for part in ("calibration", "validation"):
        example[part]["networks"] = example[part]["networks"][:2]
    schema["description"] = (
        "A latency profile document (schema_version 3; 1 and 2 are still read), as `nas profile --space SPACE --device-name NAME "
        "--out FILE.json` writes it on the device; `device.name` must be the device in the path. Fields: "
        "latency_tables/FORMAT.md. The example is the shipped NAS-Bench-201 profile of "
        f"{DEFAULT_DEVICE} (latency_tables/), its network lists shortened."
    )
    return {"required": True, "content": {"application/json": {"schema": {"$ref": REF + name}, "example": example}}}


@lru_cache(maxsize=256)
def _required_keys(space: str, resolutions: tuple[int, ...], num_classes: int | None) -> int:
    return len(searchspaces.get(space).all_blocks(resolutions, num_classes))


def _facts(profile: Profile) -> dict:
    """What a profile's summary shows beyond its stored record, read from its document."""
    check = profile.validation
    return {
        "num_classes": profile.num_classes,
        "validation": {k: v for k, v in (("method", check.method), ("spearman", check.spearman)) if v is not None},
        "fit": profile.fit.model_dump(include={"method", "n", "reference", "tool"}) if profile.fit else None,
    }


def _profile_out(record: ProfileRecord, facts: dict) -> dict:
    required = _required_keys(record.search_space, tuple(record.resolutions), facts["num_classes"])
    validation = None if record.validation is None else {**record.validation, **facts["validation"]}
    return {
        "id": record.id, "device": record.device, "search_space": record.search_space, "version": record.version,
        "runtime": record.runtime, "resolutions": record.resolutions, "block_keys": record.num_keys,
        "required_keys": required, "coverage": min(1.0, record.num_keys / required) if required else 1.0,
        "validation": validation, "fit": facts["fit"], "created_at": record.created_at.isoformat(),
    }


def _device_out(store: Store, name: str, request: Request | None = None) -> dict:
    device = store.devices.get(name)
    return {
        "name": device.name, "hardware": device.hardware, "description": device.description,
        "shipped": device.shipped, "owner": device.owner, "created_at": device.created_at.isoformat(),
        "profiles": [_profile_out(p, _stored_facts(store, p)) for p in store.profiles.list(name)],
        "calibrating": _calibrating(request, name),
    }


def _calibrating(request: Request | None, name: str) -> list[str]:
    """The spaces this machine's own device is being fitted for now (only it is ever calibrated here)."""
    dispatcher = getattr(request.app.state, "dispatcher", None) if request is not None else None
    return dispatcher.calibrator.calibrating if dispatcher is not None and is_local(name) else []


# Profiles never change once stored, so what a summary reads from each one's document (the class count
# the head's keys depend on, how it was made) is read once per process.
_FACTS: dict[tuple[str, int], dict] = {}


def _stored_facts(store: Store, record: ProfileRecord) -> dict:
    key = (str(store.url), record.id)
    if key not in _FACTS:
        _FACTS[key] = _facts(store.profiles.load(record.id))
    return _FACTS[key]


def _not_found(error: NotFound) -> HTTPException:
    return HTTPException(status_code=404, detail=f"name: {error}")


@router.post("/devices", response_model=DeviceOut, status_code=201, operation_id="createDevice",
             responses={409: errors.error("a device of that name exists"), **errors.TOO_LARGE})
def create_device(body: DeviceCreate, store: StoreDep, caller: Member) -> dict:
    """Register a device, owned by the caller's key; its profiles are uploaded next."""
    try:  # a NUL in a text (PostgreSQL cannot hold one): InvalidField, a 422 at its field
        store.devices.add(body.name, hardware=body.hardware, description=body.description, owner=caller.name)
    except AlreadyExists as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    return _device_out(store, body.name)


@router.get("/devices", response_model=list[DeviceOut], operation_id="listDevices", dependencies=[READ])
def list_devices(request: Request, store: StoreDep) -> list[dict]:
    """Every device, shipped and registered, with its profiles."""
    return [_device_out(store, d.name, request) for d in store.devices.list()]


@router.get("/devices/{name}", response_model=DeviceOut, operation_id="getDevice", responses=UNKNOWN_DEVICE,
            dependencies=[READ])
def get_device(name: DeviceName, request: Request, store: StoreDep) -> dict:
    try:
        return _device_out(store, name, request)
    except NotFound as error:
        raise _not_found(error) from None


@router.get("/devices/{name}/profiles", response_model=list[ProfileSummary], operation_id="listProfiles",
            responses=UNKNOWN_DEVICE, dependencies=[READ])
def list_profiles(
    store: StoreDep,
    name: DeviceName,
    space: str | None = Query(None, description="only this search space's profiles (GET /spaces)"),
) -> list[dict]:
    """The device's profiles, oldest version first, with coverage and validation figures."""
    if space is not None:
        known_space(space, where="query")
    try:
        return [_profile_out(p, _stored_facts(store, p)) for p in store.profiles.list(name, space)]
    except NotFound as error:
        raise _not_found(error) from None


@router.post(
    "/devices/{name}/profiles", response_model=ProfileSummary, status_code=201, operation_id="uploadProfile",
    responses={**UNKNOWN_DEVICE, **errors.TOO_LARGE, 409: errors.error("a shipped device: its profiles ship with the service")},
    openapi_extra={"requestBody": _profile_body()},
)
async def upload_profile(name: DeviceName, request: Request, store: StoreDep, caller: Member) -> dict:
    """Upload a profile measured with ``nas profile`` on this device (JSON, size-limited): the device's
    next version for the space. Its owner or an admin may; a shipped device's profiles are not changed."""
    # api.limits.BodySizeLimit has refused a body over NAS_MAX_UPLOAD_BYTES before this reads it.
    body = await request.body()
    return await run_in_threadpool(_admit_profile, store, name, body, caller)


def _admit_profile(store: Store, name: str, body: bytes, caller: Caller) -> dict:
    try:
        device = store.devices.get(name)
    except NotFound as error:
        raise _not_found(error) from None
    if device.shipped:
        raise HTTPException(status_code=409, detail=str(ShippedDevice(name)))
    caller.check_owns(device.owner, f"device {name!r}")
    profile = validate_profile(body, source="uploaded profile")
    if profile.device.name != name:
        raise ProfileError.of(Problem("device.name", f"the profile was measured as {profile.device.name!r}, "
                                                     f"uploaded to {name!r}"), source="uploaded profile")
    try:
        return _profile_out(store.profiles.add(name, profile), _facts(profile))
    except ShippedDevice as error:  # registered as shipped meanwhile (a restart of a newer release)
        raise HTTPException(status_code=409, detail=str(error)) from None


# --- profiles fitted from end-to-end measurements ----------------------------------------------------

EXAMPLE_ARCHS = {  # NAS-Bench-201 cells, their times of a phone CPU's order
    "|skip_connect~0|+|avg_pool_3x3~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_3x3~2|": 2.1,
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|": 4.6,
    "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|": 3.9,
    "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_1x1~1|none~2|": 1.6,
    "|none~0|+|none~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|": 1.2,
    "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|": 3.4,
}
CONTENT_TYPES = ("application/json", "text/csv")


def _measurements_body() -> dict:
    name, _ = _component(MeasurementsIn)
    csv = "arch,ms\n" + "".join(f"{arch},{ms}\n" for arch, ms in EXAMPLE_ARCHS.items())
    return {"required": True, "content": {
        "application/json": {"schema": {"$ref": REF + name}, "example": {
            "space": "nasbench201", "runtime": "tflite", "hardware": "Pixel 7, Tensor G2, big cores",
            "measurements": [{"arch": arch, "ms": ms} for arch, ms in EXAMPLE_ARCHS.items()]}},
        "text/csv": {"schema": {"type": "string", "description": (
            "a header `arch,ms`, then one whole network a row: its canonical arch string and its end-to-end "
            "latency in ms; the space (required) and the device's fields go in the query")}, "example": csv},
    }}


@router.post(
    "/devices/{name}/measurements", response_model=FittedProfileOut, status_code=201, operation_id="fitMeasurements",
    responses={409: errors.error("a shipped device: its profiles ship with the service"), **errors.TOO_LARGE,
               415: errors.error("the body is neither application/json nor text/csv")},
    openapi_extra={"requestBody": _measurements_body()},
)
async def fit_measurements(name: DeviceName, request: Request, query: Annotated[FitQuery, Query()],
                           store: StoreDep, caller: Member) -> dict:
    """Register a profile fitted from whole networks timed end to end on the device (JSON, or CSV `arch,ms`
    with `space` in the query): the device's next profile version for the space, with the fit's
    leave-one-out figures. The device is registered if new, owned by the caller's key; an existing one
    only by its owner or an admin; a shipped device is refused."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise HTTPException(status_code=415, detail=(
            f"content-type: send application/json or text/csv (arch,ms rows), got {kind or 'none'!r}"))
    body = await request.body()
    return await run_in_threadpool(_fit_and_store, store, name, kind == "text/csv", body, query, caller)


def _fit_and_store(store: Store, name: str, csv: bool, body: bytes, query: FitQuery, caller: Caller) -> dict:
    try:
        if fittable(store, name):
            caller.check_owns(store.devices.get(name).owner, f"device {name!r}")
    except ShippedDevice as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    space, rows, fields = _read_csv(body, query) if csv else _read_json(body, query)
    tool = fields.pop("tool", None)
    try:  # MeasurementError, ProfileError: a 422 at each bad row or field (api.errors)
        profile = fit_profile(space, rows, device={**fields, "name": name}, tool=tool)
    except searchspaces.UnknownSpaceError:  # checked before; kept for a space unregistered since
        known_space(space, where="query" if csv else "body")
        raise
    try:
        record, created = add_fitted(store, name, profile, fields.get("hardware", ""), owner=caller.name)
    except ShippedDevice as error:  # registered as shipped meanwhile (a restart of a newer release)
        raise HTTPException(status_code=409, detail=str(error)) from None
    out = _profile_out(record, _facts(profile))
    points = [p.model_dump(include={"arch", "measured_ms", "predicted_ms"}) for p in profile.validation.networks]
    return {**out, "device_created": created, "networks": points}


def _read_json(body: bytes, query: FitQuery) -> tuple[str, list, dict]:
    given = sorted(query.model_dump(exclude_none=True))
    if given:
        raise InvalidField.many([Problem(field, "with a JSON body, give it in the body") for field in given],
                                what="query", where="query")
    try:
        request = MeasurementsIn.model_validate_json(body)
    except ValidationError as error:
        raise _refusal(error, "body") from None
    known_space(request.space)
    rows = [(m.arch, m.ms) for m in request.measurements]  # fit_profile names them measurements[i]
    return request.space, rows, request.model_dump(exclude={"space", "measurements"}, exclude_none=True)


def _read_csv(body: bytes, query: FitQuery) -> tuple[str, list, dict]:
    fields = query.model_dump(exclude={"space"}, exclude_none=True)
    try:
        fields = DeviceFields.model_validate(fields).model_dump(exclude_none=True)
    except ValidationError as error:
        raise _refusal(error, "query") from None
    if query.space is None:
        raise InvalidField("space", "required with a text/csv body; known spaces: " + ", ".join(searchspaces.names()),
                           where="query")
    known_space(query.space, where="query")
    return query.space, read_csv(body, source="CSV body"), fields


def _refusal(error: ValidationError, where: str) -> InvalidField:
    """Pydantic's refusal of a body or query read by hand, each error at its field with its own type;
    a list item is named as JSON writes it (``measurements[3].ms``). Without the input: a NaN there
    would make the refusal itself unserialisable (a 500)."""
    problems = []
    for item in error.errors():
        loc = list(item["loc"])
        field = ".".join(str(part) for part in loc)
        named = (f"measurements[{loc[1]}]" + "".join(f".{part}" for part in loc[2:])
                 if loc[:1] == ["measurements"] and len(loc) > 1 else field)
        problems.append(Problem(field, item["msg"], label=named if named != field else None, kind=item["type"]))
    return InvalidField.many(problems, what=where, where=where)
