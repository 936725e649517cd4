"""Calibration datasets: the data batch the data-dependent proxies score networks on.

Two are built in: ``cifar10_sample`` (550 real CIFAR-10 images shipped with the package) and
``synthetic`` (Gaussian images). Users upload their own as a small ``.npz`` of ``images`` and
``labels`` (multipart form, up to ``NAS_MAX_UPLOAD_BYTES``); it is checked by
``nas.datasets.calibration.read_npz`` (every problem listed by field, nothing stored on refusal)
and a search names it in its ``data`` field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Path, UploadFile

from api import errors
from api.auth import READ, Member
from api.deps import StoreDep
from api.schemas import DatasetOut
from nas.datasets.calibration import read_npz
from nas.evaluate import BUILT_IN_DATA
from nas.latency.schema import DEVICE_NAME_PATTERN
from nas.proxies.data import cifar10_sample_size
from nas.storage import AlreadyExists, DatasetRecord, NotFound

router = APIRouter(tags=["datasets"])

BUILT_IN = {
    "cifar10_sample": {"description": "real CIFAR-10 images shipped with the package (train and test draws)",
                       "num_images": 0, "height": 32, "width": 32, "num_classes": 10,
                       "dtype": "uint8"},
    "synthetic": {"description": "standard Gaussian images with uniform labels, drawn per search",
                  "num_images": None, "height": None, "width": None, "num_classes": None, "dtype": "float32"},
}
assert set(BUILT_IN) == set(BUILT_IN_DATA)


def _built_in(name: str) -> dict:
    out = {"name": name, "built_in": True, "sha256": None, "size_bytes": None, "created_at": None, "owner": None,
           **BUILT_IN[name]}
    if name == "cifar10_sample":
        out["num_images"] = cifar10_sample_size()
    return out


def _out(record: DatasetRecord) -> dict:
    return {"name": record.name, "built_in": False, "description": record.description,
            "num_images": record.num_images, "height": record.height, "width": record.width,
            "num_classes": record.num_classes, "dtype": record.dtype, "sha256": record.sha256,
            "size_bytes": record.size_bytes, "created_at": record.created_at.isoformat(),
            "channel_mean": record.channel_mean, "channel_std": record.channel_std, "owner": record.owner}


DatasetName = Annotated[str, Path(pattern=DEVICE_NAME_PATTERN, description="the dataset's name (GET /datasets)",
                                  examples=["cifar10_sample"])]


@router.post(
    "/datasets", response_model=DatasetOut, status_code=201, operation_id="uploadDataset",
    responses={409: errors.error("the name is taken (datasets are never replaced)"),
               **errors.TOO_LARGE},
    openapi_extra={"requestBody": {"content": {"multipart/form-data": {"example": {
        "file": "parts.npz", "name": "factory-parts", "description": "500 labelled photos of parts",
        "num_classes": 12}}}}},
)
def upload_dataset(
    store: StoreDep,
    caller: Member,
    file: Annotated[UploadFile, File(description="an .npz holding 'images' (N,H,W,3 or N,3,H,W; uint8, or "
                                                 "normalised float32) and 'labels' (N integers)")],
    name: Annotated[str, Form(pattern=DEVICE_NAME_PATTERN, examples=["factory-parts"],
                              description="what searches call it: 1-64 letters, digits, '.', '_' or '-'")],
    description: Annotated[str, Form(max_length=2000)] = "",
    num_classes: Annotated[int | None, Form(ge=1, le=100_000, description="default: the largest label + 1")] = None,
) -> dict:
    """Upload a calibration dataset (multipart form; the body is limited to NAS_MAX_UPLOAD_BYTES).

    ``curl -F file=@parts.npz -F name=factory-parts http://127.0.0.1:8000/api/v1/datasets``
    """
    if name in BUILT_IN:
        raise HTTPException(status_code=409, detail=f"name: {name!r} is a built-in dataset; choose another name")
    content = file.file.read()
    dataset = read_npz(content, num_classes)  # DatasetError: a 422 naming each problem (api/errors.py)
    try:  # a NUL in the description (PostgreSQL cannot hold one): InvalidField, a 422 at its field
        record = store.datasets.add(name, content, dataset.describe(), description, owner=caller.name)
    except AlreadyExists as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    return _out(record)


@router.get("/datasets", response_model=list[DatasetOut], operation_id="listDatasets", dependencies=[READ])
def list_datasets(store: StoreDep) -> list[dict]:
    """The built-in datasets, then the uploaded ones by name."""
    return [_built_in(name) for name in BUILT_IN] + [_out(d) for d in store.datasets.list()]


@router.get("/datasets/{name}", response_model=DatasetOut, operation_id="getDataset",
            responses={404: errors.error("no dataset of that name")}, dependencies=[READ])
def get_dataset(name: DatasetName, store: StoreDep) -> dict:
    if name in BUILT_IN:
        return _built_in(name)
    try:
        return _out(store.datasets.get(name))
    except NotFound as error:
        raise HTTPException(status_code=404, detail=f"name: {error}") from None
